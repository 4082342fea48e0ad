"""A model is preprocessing plus a learner, fitted together on raw feature rows, saved together
as one folder with a manifest (``aimass-model.json``) the predictor loads.

The folder holds ``preprocessor.skops`` (the fitted ColumnTransformer), the learner's files under
``learner/`` and the manifest: algorithm, task, hyperparameters, the input columns with their
kinds, the output names, the classes of a classifier and the sequence settings. Loading resolves
the learner class from the algorithm name in the library (never from the files), so a model folder
can hold no code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import (
    AlgorithmInfo,
    FitOptions,
    Learner,
    Progress,
    SavedLearner,
    Task,
)
from services.trainer.library.compiled import CompiledPreprocessor, compile_preprocessor
from services.trainer.library.preprocessing import (
    Column,
    ColumnKind,
    PreprocessingChoice,
    build_preprocessor,
    output_feature_names,
    prepare_frame,
    transformed,
)
from services.trainer.library.skops_io import dump_skops, load_skops

MANIFEST = "aimass-model.json"
PREPROCESSOR_FILE = "preprocessor.skops"
LEARNER_DIR = "learner"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SequenceSettings:
    window: int
    horizon: int = 1
    stride: int = 1
    series_id_column: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides what ``fit_model`` makes."""

    algorithm: AlgorithmInfo
    task: Task
    params: Mapping[str, Any]  # validated (AlgorithmInfo.resolve_params)
    columns: Sequence[Column]
    preprocessing: PreprocessingChoice
    target: str = ""
    sequence: SequenceSettings | None = None
    options: FitOptions = field(default_factory=FitOptions)


@dataclass
class TrainingData:
    """Raw rows: ``features`` holds at least the spec's columns, in time order for sequence
    tasks; ``target`` is the target column's values (None for unsupervised tasks)."""

    features: pd.DataFrame
    target: pd.Series | None = None
    sample_weight: np.ndarray | None = None
    # Sequence tasks with several series: the series of each row (windows never cross one).
    series: pd.Series | None = None

    def __len__(self) -> int:
        return len(self.features)


# Windowing of sequence tasks is provided by the sequences module; it is looked up lazily so the
# tabular path does not depend on it.
WindowMaker = Callable[..., tuple[np.ndarray, np.ndarray | None]]


@dataclass
class Prediction:
    # Classification: the class labels; regression: values; clustering: cluster ids;
    # forecasting: rows x horizon; dimensionality reduction: the projected rows.
    predictions: np.ndarray
    probabilities: np.ndarray | None = None  # rows x classes, in ``FittedModel.classes`` order


@dataclass
class FittedModel:
    spec: ModelSpec
    preprocessor: ColumnTransformer
    learner: Learner
    classes: list[Any] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    @cached_property
    def compiled(self) -> CompiledPreprocessor | None:
        """The fitted preprocessor as numpy, for serving; None where only scikit-learn's path
        reproduces it."""
        return compile_preprocessor(self.preprocessor, self.spec.columns)

    # -- use ---------------------------------------------------------------------------------

    def predict_columns(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        """Predict from one 1-D array per raw column, as a server decodes a request: the numpy
        preprocessor where the model has one, else the DataFrame path. Sequence models take
        ``predict`` (their windows need the rows in order as a frame)."""
        if self.compiled is None or self.spec.sequence is not None:
            return self.predict(pd.DataFrame({name: columns[name] for name in columns}))
        return self.predict_matrix(self.compiled.transform(columns))

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return transformed(self.preprocessor, prepare_frame(frame, self.spec.columns))

    def predict(self, frame: pd.DataFrame, series: pd.Series | None = None) -> Prediction:
        x = self.matrix(frame)
        if self.spec.sequence is not None:
            x, _ = _windows(self.spec, x, None, series, predicting=True)
        return self.predict_matrix(x)

    def predict_matrix(self, x: np.ndarray) -> Prediction:
        if not self.spec.task.classifies:
            return Prediction(np.asarray(self.learner.predict(x)))
        probabilities = self.learner.predict_proba(x)
        if probabilities is not None and self.learner.labels_from_probabilities:
            raw = np.argmax(probabilities, axis=1)
        else:
            raw = self.learner.predict(x)
        labels = np.asarray(self.classes, dtype=object)[np.asarray(raw, dtype=np.int64)]
        return Prediction(_compact(labels), probabilities)

    def encode_target(self, target: pd.Series) -> np.ndarray:
        """Class indices of ``target`` (classification) or float64 values; unknown classes and
        missing targets are an InvalidArgument."""
        return _encode(self.spec.task, target, self.classes)

    # -- storage -------------------------------------------------------------------------------

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the model folder; returns the manifest."""
        directory.mkdir(parents=True, exist_ok=True)
        dump_skops(self.preprocessor, directory / PREPROCESSOR_FILE)
        learner_dir = directory / LEARNER_DIR
        learner_dir.mkdir()
        saved = self.learner.save(learner_dir)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "algorithm": self.spec.algorithm.name,
            "library": self.spec.algorithm.library,
            "task": self.spec.task.value,
            "params": dict(self.spec.params),
            "target": self.spec.target,
            "columns": [
                {"name": c.name, "kind": c.kind.value, "arrow_type": c.arrow_type}
                for c in self.spec.columns
            ],
            "preprocessing": {
                "file": PREPROCESSOR_FILE,
                "numeric_imputation": self.spec.preprocessing.numeric_imputation,
                "categorical_imputation": self.spec.preprocessing.categorical_imputation,
                "encoding": self.spec.preprocessing.encoding,
                "scaling": self.spec.preprocessing.scaling,
                "max_categories": self.spec.preprocessing.max_categories,
            },
            "feature_names": self.feature_names,
            "classes": [_jsonable(c) for c in self.classes],
            "sequence": None if self.spec.sequence is None else vars(self.spec.sequence),
            "learner": {
                "format": saved.format,
                "files": [f"{LEARNER_DIR}/{name}" for name in saved.files],
                "config": dict(saved.config),
            },
            "seed": self.spec.options.seed,
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return manifest

    @property
    def artifact_format(self) -> str:
        return self.spec.algorithm.formats[0]


def fit_model(
    spec: ModelSpec,
    train: TrainingData,
    validation: TrainingData | None = None,
    progress: Progress | None = None,
) -> FittedModel:
    """Fit preprocessing on ``train``'s rows, then the learner on the result."""
    if len(train) == 0:
        raise InvalidArgument("no training rows: the training split is empty")
    task = spec.task
    classes: list[Any] = []
    if task.supervised:
        if train.target is None:
            raise InvalidArgument(f"{task.value} needs a target column")
        if task.classifies:
            classes = _classes(train.target)
    model = FittedModel(spec, build_preprocessor(spec.columns, spec.preprocessing), None, classes)  # type: ignore[arg-type]
    x = np.ascontiguousarray(
        model.preprocessor.fit_transform(prepare_frame(train.features, spec.columns)),
        dtype=np.float32,
    )
    model.feature_names = output_feature_names(model.preprocessor)
    y = model.encode_target(train.target) if train.target is not None else None
    held_out: tuple[np.ndarray, np.ndarray] | None = None
    if validation is not None and len(validation) and validation.target is not None:
        held_out = (model.matrix(validation.features), model.encode_target(validation.target))
    weight = train.sample_weight
    if spec.sequence is not None:
        x, y = _windows(spec, x, y, train.series)
        weight = None
        if held_out is not None and validation is not None:
            held_out = _windows(spec, held_out[0], held_out[1], validation.series)  # type: ignore[assignment]
    learner = spec.algorithm.build(task, spec.params, spec.options)
    learner.fit(x, y, sample_weight=weight, validation=held_out, progress=progress)
    model.learner = learner
    return model


def _windows(
    spec: ModelSpec,
    x: np.ndarray,
    y: np.ndarray | None,
    series: pd.Series | None,
    predicting: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    from services.trainer.library.sequences import make_windows

    assert spec.sequence is not None
    return make_windows(
        x,
        y,
        task=spec.task,
        settings=spec.sequence,
        series=None if series is None else series.to_numpy(),
        predicting=predicting,
    )


def _classes(target: pd.Series) -> list[Any]:
    present = target.dropna()
    if len(present) < len(target):
        raise InvalidArgument(
            f"the target column has {len(target) - len(present)} missing values: drop or fill "
            "them in the dataset's recipe"
        )
    classes = sorted(present.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise InvalidArgument(
            f"the target column has {len(classes)} class in the training rows; "
            "classification needs at least 2"
        )
    return classes


def _encode(task: Task, target: pd.Series, classes: Sequence[Any]) -> np.ndarray:
    if target.isna().any():
        raise InvalidArgument(
            f"the target column has {int(target.isna().sum())} missing values: drop or fill "
            "them in the dataset's recipe"
        )
    if task.classifies:
        index = {value: i for i, value in enumerate(classes)}
        try:
            return np.fromiter((index[v] for v in target.tolist()), np.int64, len(target))
        except KeyError as exc:
            raise InvalidArgument(
                f"class {exc.args[0]!r} appears in the evaluation rows but not in the training "
                "rows: split stratified by the target, or drop the rare class"
            ) from None
    try:
        return target.astype("float64").to_numpy()
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"the target column has type {target.dtype}; {task.value} needs numbers"
        ) from None


def _compact(labels: np.ndarray) -> np.ndarray:
    """Object labels as a plain numpy array when they are all numbers or all booleans."""
    if len(labels) and all(isinstance(v, bool | np.bool_) for v in labels):
        return labels.astype(bool)
    if len(labels) and all(isinstance(v, int | np.integer) for v in labels):
        return labels.astype(np.int64)
    return labels


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_model(directory: Path, find_algorithm: Callable[[str], AlgorithmInfo]) -> FittedModel:
    """The model in ``directory``; FailedPrecondition when the folder is not a model this version
    can load."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise FailedPrecondition(f"{directory} holds no readable {MANIFEST}: {exc}") from None
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise FailedPrecondition(
            f"model manifest version {manifest.get('manifest_version')!r} is not supported "
            f"(this version reads {MANIFEST_VERSION})"
        )
    info = find_algorithm(manifest["algorithm"])
    preprocessor_path = directory / manifest["preprocessing"]["file"]
    preprocessor = load_skops(preprocessor_path)
    learner_manifest = manifest["learner"]
    saved = SavedLearner(
        format=learner_manifest["format"],
        files=tuple(f.removeprefix(f"{LEARNER_DIR}/") for f in learner_manifest["files"]),
        config=learner_manifest["config"],
    )
    learner = info.learner_class.load(directory / LEARNER_DIR, saved)
    preprocessing = manifest["preprocessing"]
    sequence = manifest.get("sequence")
    spec = ModelSpec(
        algorithm=info,
        task=Task(manifest["task"]),
        params=manifest["params"],
        columns=[
            Column(c["name"], ColumnKind(c["kind"]), c["arrow_type"]) for c in manifest["columns"]
        ],
        preprocessing=PreprocessingChoice(
            numeric_imputation=preprocessing["numeric_imputation"],
            categorical_imputation=preprocessing["categorical_imputation"],
            encoding=preprocessing["encoding"],
            scaling=preprocessing["scaling"],
            max_categories=preprocessing["max_categories"],
        ),
        target=manifest["target"],
        sequence=None if sequence is None else SequenceSettings(**sequence),
        options=FitOptions(seed=manifest.get("seed", 0)),
    )
    return FittedModel(
        spec, preprocessor, learner, list(manifest["classes"]), list(manifest["feature_names"])
    )
