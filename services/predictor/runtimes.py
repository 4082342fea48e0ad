"""Model runtimes: what the predictor runs a model version with, all behind one interface.

A runtime declares its input and output tensors (OIP datatypes, -1 for the batch axis and any
other free axis) and predicts a fused batch: one array per input, every one with the rows on axis
0, one array per output back. ``predict`` runs on a worker thread; each runtime runs its library
on ``threads`` threads, 1 by default: a single-row xgboost call costs ~150 us and a 64-row batch
~250 us, so throughput comes from batching requests, not from intra-op threads.

- ``TrainerModelRuntime``: a trainer model folder (``aimass-model.json``). Raw columns in, either
  one tensor per column (shape [n] or [n, 1]) or one 2-D tensor [n, columns] in signature order
  (numbers, or BYTES for mixed types; its name does not matter). Timestamps are INT64 (any number)
  seconds since the Unix epoch, UTC, or BYTES ISO-8601 text; in BYTES, an empty value is missing.
- ``BoosterRuntime``: an uploaded xgboost booster (UBJ or JSON); one FP32 tensor [n, features].
- ``SkopsRuntime``: an uploaded scikit-learn estimator in skops, allow-listed types only; one FP64
  tensor [n, features].
- ``OnnxRuntime``: an uploaded ONNX graph on onnxruntime's CPU provider; tensors as the graph says.

Outputs are ``predictions`` and, where the model has them, ``probabilities`` [n, classes] (ONNX
graphs keep their own output names).
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.predictor.tensors import datatype_of, dtype_of
from services.trainer.library.base import (
    FORMAT_ONNX,
    FORMAT_SAFETENSORS,
    FORMAT_SKOPS,
    FORMAT_XGBOOST_JSON,
    FORMAT_XGBOOST_UBJ,
    AlgorithmInfo,
    FitOptions,
    Learner,
    Task,
)
from services.trainer.library.model import MANIFEST, FittedModel, Prediction, load_model
from services.trainer.library.preprocessing import Column, ColumnKind

PREDICTIONS = "predictions"
PROBABILITIES = "probabilities"
DEFAULT_INPUT = "input"
SUPPORTED_FORMATS = (FORMAT_SKOPS, FORMAT_XGBOOST_UBJ, FORMAT_XGBOOST_JSON, FORMAT_ONNX)
_NUMBERS = "biuf"  # numpy kinds of BOOL, INT*, UINT* and FP* tensors
_TEXT = "OUS"
_LISTED = 8  # column names quoted in an error message


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # OIP datatype: "FP32", "FP64", "INT64", "BOOL", "BYTES", ...
    shape: list[int]  # -1: any size; axis 0 is the batch


class Runtime(ABC):
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    threads: int = 1
    # ModelMetadata platform: "xgboost", "sklearn", "torch", "onnxruntime_onnx", a plugin library
    platform: str = ""
    # False when output rows depend on several input rows (sequence models read windows across
    # rows): the batcher must not fuse such requests.
    batchable: bool = True
    warm_up_rows: int = 1

    @abstractmethod
    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One array per output from one per input (the batch on axis 0); InvalidArgument names
        the input at fault."""

    def warm_up(self) -> None:
        """One prediction on synthetic rows, so the first request pays no first-call costs."""
        self.predict(synthetic_inputs(self.inputs, self.warm_up_rows))

    @abstractmethod
    def close(self) -> None:
        """Release the model; the runtime is not used afterwards."""


def synthetic_inputs(specs: Sequence[TensorSpec], rows: int = 1) -> dict[str, np.ndarray]:
    """Zeros (empty text for BYTES) of each spec's shape, ``rows`` on axis 0, 1 on free axes."""
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = [rows, *(max(size, 1) for size in spec.shape[1:])]
        if spec.datatype == "BYTES":
            arrays[spec.name] = np.full(shape, b"", dtype=object)
        else:
            arrays[spec.name] = np.zeros(shape, dtype=dtype_of(spec.datatype))
    return arrays


def _specs_of(outputs: Mapping[str, np.ndarray]) -> list[TensorSpec]:
    return [
        TensorSpec(name, datatype_of(array.dtype), [-1, *array.shape[1:]])
        for name, array in outputs.items()
    ]


def _label_dtype(values: Sequence[Any]) -> np.dtype[Any]:
    """The numpy dtype class labels go out as: BOOL, INT64, FP64, else BYTES (text)."""
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return np.dtype(bool)
    if values and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        return np.dtype(np.int64)
    if values and all(isinstance(v, float | int | np.number) for v in values):
        return np.dtype(np.float64)
    return np.dtype(object)


def _labels(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    if dtype.kind != "O":
        return np.asarray(values).astype(dtype, copy=False)
    return np.array([str(v) for v in np.asarray(values).tolist()], dtype=object)


def _text(value: object) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _names(names: Sequence[str]) -> str:
    listed = ", ".join(map(repr, names[:_LISTED]))
    return listed + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _check_finite(values: np.ndarray, label: str, missing_allowed: bool) -> None:
    if np.isfinite(values).all():
        return
    if np.isinf(values).any():
        raise InvalidArgument(f"{label} holds an infinite value; send finite numbers")
    if not missing_allowed:
        raise InvalidArgument(
            f"{label} holds a missing value (NaN) and this model imputes none; send a value"
        )


def set_learner_threads(learner: Learner, threads: int) -> None:
    """Run a trainer learner on ``threads`` threads: xgboost's ``nthread``, the torch learners'
    thread budget (``options.threads``) and scikit-learn's ``n_jobs``. BLAS and OpenMP pools are
    process-wide and left to the server."""
    booster = getattr(learner, "booster", None)
    if booster is not None and hasattr(booster, "set_param"):
        booster.set_param({"nthread": threads})
    options = getattr(learner, "options", None)
    if isinstance(options, FitOptions):
        learner.options = dataclasses.replace(options, threads=threads)  # type: ignore[attr-defined]
    estimator = getattr(learner, "estimator", None)
    if estimator is not None:
        _set_jobs(estimator, threads)


def _set_jobs(estimator: Any, threads: int) -> None:
    if not hasattr(estimator, "get_params"):
        return
    jobs = {k: threads for k in estimator.get_params(deep=True) if k.split("__")[-1] == "n_jobs"}
    if jobs:
        estimator.set_params(**jobs)


# -- trainer model folders ----------------------------------------------------------------------


def column_datatype(column: Column) -> str:
    """The OIP datatype a raw column is declared with (other numeric datatypes are accepted)."""
    if column.kind is ColumnKind.CATEGORICAL:
        return "BYTES"
    if column.kind is ColumnKind.BOOLEAN:
        return "BOOL"
    if column.kind is ColumnKind.DATETIME:
        return "INT64"  # seconds since the Unix epoch, UTC
    if column.arrow_type in ("float", "halffloat"):
        return "FP32"
    return "INT64" if "int" in column.arrow_type else "FP64"


class TrainerModelRuntime(Runtime):
    def __init__(self, model: FittedModel, threads: int = 1) -> None:
        self.model = model
        self.threads = threads
        set_learner_threads(model.learner, threads)
        spec = model.spec
        self.platform = spec.algorithm.library
        self.columns = list(spec.columns)
        self._by_name = {c.name: c for c in self.columns}
        self._missing_allowed = (
            spec.preprocessing.numeric_imputation is not None or spec.algorithm.handles_missing
        )
        self._frame_path = model.compiled is None or spec.sequence is not None
        self._series = spec.sequence.series_id_column if spec.sequence is not None else ""
        self._label_dtype = _label_dtype(model.classes)
        self.inputs = [TensorSpec(c.name, column_datatype(c), [-1]) for c in self.columns]
        if self._series:
            self.inputs.append(TensorSpec(self._series, "BYTES", [-1]))
        if spec.sequence is not None:
            self.batchable = False
            self.warm_up_rows = spec.sequence.window
        self.outputs = _specs_of(self.predict(synthetic_inputs(self.inputs, self.warm_up_rows)))

    @classmethod
    def load(
        cls,
        directory: Path,
        threads: int = 1,
        find_algorithm: Callable[[str], AlgorithmInfo] | None = None,
    ) -> TrainerModelRuntime:
        if find_algorithm is None:
            from services.trainer.library.catalog import get_algorithm

            find_algorithm = get_algorithm
        return cls(load_model(directory, find_algorithm), threads)

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        columns, series = self._columns(inputs)
        if self._frame_path:
            result = self.model.predict(pd.DataFrame(columns), series)
        else:
            result = self.model.predict_columns(columns)
        return self._outputs(result)

    def _outputs(self, result: Prediction) -> dict[str, np.ndarray]:
        task = self.model.spec.task
        if task.classifies:
            outputs = {PREDICTIONS: _labels(result.predictions, self._label_dtype)}
            if result.probabilities is not None:
                outputs[PROBABILITIES] = np.asarray(result.probabilities, dtype=np.float64)
            return outputs
        dtype = np.int64 if task is Task.CLUSTERING else np.float64
        return {PREDICTIONS: np.asarray(result.predictions).astype(dtype, copy=False)}

    def close(self) -> None:
        del self.model

    def _columns(
        self, inputs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], pd.Series | None]:
        series = None
        if self._series:
            if self._series not in inputs:
                raise InvalidArgument(f"the request has no input {self._series!r} (series id)")
            series = pd.Series([_text(v) for v in np.asarray(inputs[self._series]).ravel()])
            inputs = {k: v for k, v in inputs.items() if k != self._series}
        names = [c.name for c in self.columns]
        if set(inputs) == set(names):
            return self._per_column(inputs), series
        if len(inputs) == 1:
            name, array = next(iter(inputs.items()))
            shape = np.shape(array)
            if len(shape) == 2 and not (name in self._by_name and shape[1] == 1):
                return self._from_matrix(name, np.asarray(array)), series
        raise self._name_error(inputs, names)

    def _name_error(self, inputs: Mapping[str, np.ndarray], names: list[str]) -> InvalidArgument:
        hint = (
            f"send one tensor per column ({_names(names)}) or one 2-D tensor "
            f"[n, {len(names)}] with the columns in that order"
        )
        extra = [name for name in inputs if name not in self._by_name]
        if extra:
            return InvalidArgument(f"input {extra[0]!r} is not a column of this model; {hint}")
        missing = [name for name in names if name not in inputs]
        return InvalidArgument(f"the request has no input {missing[0]!r}; {hint}")

    def _per_column(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays: list[np.ndarray] = []
        rows = None
        for column in self.columns:
            array = np.asarray(inputs[column.name])
            if array.ndim == 2 and array.shape[1] == 1:
                array = array[:, 0]
            elif array.ndim != 1:
                raise InvalidArgument(
                    f"input {column.name!r} has shape {list(array.shape)}; send [n] or [n, 1]"
                )
            if rows is None:
                rows = len(array)
            elif len(array) != rows:
                raise InvalidArgument(
                    f"input {column.name!r} has {len(array)} rows; the inputs before it have {rows}"
                )
            arrays.append(array)
        # One finiteness check over every float column; each is checked (and named) only when
        # this one fails.
        floats = [
            a
            for a, c in zip(arrays, self.columns, strict=True)
            if a.dtype.kind == "f" and c.kind is not ColumnKind.CATEGORICAL
        ]
        checked = not floats or bool(np.isfinite(np.concatenate(floats)).all())
        return {
            column.name: self._values(column, array, f"input {column.name!r}", checked)
            for column, array in zip(self.columns, arrays, strict=True)
        }

    def _from_matrix(self, name: str, array: np.ndarray) -> dict[str, np.ndarray]:
        if array.shape[1] != len(self.columns):
            raise InvalidArgument(
                f"input {name!r} has {array.shape[1]} columns; this model takes "
                f"{len(self.columns)}: {_names([c.name for c in self.columns])}"
            )
        numeric = array.dtype.kind in _NUMBERS
        if numeric:
            # One check for the whole matrix; the columns are named only on failure.
            array = array.astype(np.float64, copy=False)
            if not np.isfinite(array).all():
                for index, column in enumerate(self.columns):
                    label = f"column {column.name!r} (index {index} of input {name!r})"
                    _check_finite(array[:, index], label, self._missing_allowed)
        return {
            column.name: self._values(
                column,
                array[:, index],
                f"column {column.name!r} (index {index} of input {name!r})",
                checked=numeric,
            )
            for index, column in enumerate(self.columns)
        }

    def _values(
        self, column: Column, array: np.ndarray, label: str, checked: bool = False
    ) -> np.ndarray:
        """A raw column as the preprocessor takes it: text or None for categories, float64
        otherwise (datetimes as UTC timestamps on the DataFrame path)."""
        if column.kind is ColumnKind.CATEGORICAL:
            return np.array([_category(v) for v in array.tolist()], dtype=object)
        if array.dtype.kind in _NUMBERS:
            values = array.astype(np.float64, copy=False)
            checked = checked or array.dtype.kind != "f"  # only floats hold NaN and infinity
        elif array.dtype.kind in _TEXT:
            values, checked = _parse(column, array, label), False
        else:
            raise InvalidArgument(f"{label} holds {array.dtype} values; send numbers")
        if not checked:
            _check_finite(values, label, self._missing_allowed)
        if column.kind is ColumnKind.BOOLEAN:
            values = np.where(np.isnan(values), values, values != 0)
        if column.kind is ColumnKind.DATETIME and self._frame_path:
            return pd.to_datetime(values, unit="s", utc=True).to_numpy()
        return values


def _category(value: object) -> str | None:
    """Text of a category; empty text (OIP has no nulls) and NaN are missing."""
    if isinstance(value, float) and np.isnan(value):
        return None
    return _text(value) or None


_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0}


def _parse(column: Column, array: np.ndarray, label: str) -> np.ndarray:
    """Numbers from text; an empty value is missing. Datetimes also as ISO-8601 text."""
    texts = [_text(v).strip() for v in array.tolist()]
    try:
        return np.array(
            [float(_BOOLEAN_WORDS.get(t.lower(), t)) if t else np.nan for t in texts],
            dtype=np.float64,
        )
    except ValueError as exc:
        if column.kind is not ColumnKind.DATETIME:
            raise InvalidArgument(f"{label} must hold {column.kind.value} values: {exc}") from None
    try:
        stamps = pd.to_datetime(pd.Series([t or None for t in texts]), utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{label} must hold ISO-8601 timestamps: {exc}") from None
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.float64, na_value=np.nan)


# -- uploaded files -----------------------------------------------------------------------------


def _artifact_file(model_dir: Path, suffixes: tuple[str, ...], what: str) -> Path:
    if model_dir.is_file():
        return model_dir
    found = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name.endswith(suffixes))
    if len(found) != 1:
        raise FailedPrecondition(
            f"an uploaded {what} model is one {' or '.join(suffixes)} file; "
            f"{model_dir.name} holds {len(found)}"
        )
    return found[0]


def _matrix(
    inputs: Mapping[str, np.ndarray], spec: TensorSpec, missing_allowed: bool
) -> np.ndarray:
    """The one 2-D numeric input of an uploaded model, as ``spec``'s dtype."""
    if len(inputs) != 1:
        raise InvalidArgument(
            f"this model takes one 2-D tensor {spec.shape}, not {len(inputs)} inputs "
            f"({_names(list(inputs))})"
        )
    name, array = next(iter(inputs.items()))
    array = np.asarray(array)
    width = spec.shape[1]
    if array.ndim == 1 and width == 1:
        array = array[:, None]
    if array.ndim != 2 or (width != -1 and array.shape[1] != width):
        raise InvalidArgument(
            f"input {name!r} has shape {list(array.shape)}; this model takes [n, {width}]"
        )
    if array.dtype.kind not in _NUMBERS:
        raise InvalidArgument(f"input {name!r} is {datatype_of(array.dtype)}; send numbers")
    values = array.astype(dtype_of(spec.datatype), copy=False)
    _check_finite(values, f"input {name!r}", missing_allowed)
    return values


def _input_name(signature: rpb.ModelSignature | None) -> str:
    if signature is not None and len(signature.inputs.fields) == 1:
        return signature.inputs.fields[0].name or DEFAULT_INPUT
    return DEFAULT_INPUT


def _softmax(margins: np.ndarray) -> np.ndarray:
    shifted = np.exp(margins - margins.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class BoosterRuntime(Runtime):
    """An uploaded xgboost booster; classes are 0..k-1 for binary and multi-class objectives."""

    platform = "xgboost"

    def __init__(self, path: Path, threads: int = 1, input_name: str = DEFAULT_INPUT) -> None:
        import xgboost as xgb

        self.threads = threads
        self.booster = xgb.Booster()
        try:
            self.booster.load_model(str(path))
        except Exception as exc:  # XGBoostError, or a UnicodeDecodeError of its message
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FailedPrecondition(
                f"{path.name} is not a readable xgboost model: {reason}"
            ) from None
        self.booster.set_param({"nthread": threads})
        self.objective = json.loads(self.booster.save_config())["learner"]["objective"]["name"]
        self.inputs = [TensorSpec(input_name, "FP32", [-1, self.booster.num_features()])]
        self.outputs = _specs_of(self.predict(synthetic_inputs(self.inputs)))

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = _matrix(inputs, self.inputs[0], missing_allowed=True)
        if self.objective == "multi:softmax":
            margins = self.booster.inplace_predict(x, predict_type="margin")
            return self._classes(_softmax(np.asarray(margins, dtype=np.float64)))
        raw = np.asarray(self.booster.inplace_predict(x), dtype=np.float64)
        if self.objective in ("binary:logistic", "binary:logitraw"):
            p = raw if self.objective == "binary:logistic" else 1.0 / (1.0 + np.exp(-raw))
            return self._classes(np.column_stack([1.0 - p, p]))
        if self.objective == "multi:softprob":
            return self._classes(raw.reshape(len(x), -1))
        if self.objective == "binary:hinge":
            return {PREDICTIONS: raw.astype(np.int64)}
        return {PREDICTIONS: raw}

    @staticmethod
    def _classes(probabilities: np.ndarray) -> dict[str, np.ndarray]:
        labels = probabilities.argmax(axis=1).astype(np.int64)
        return {PREDICTIONS: labels, PROBABILITIES: probabilities}

    def close(self) -> None:
        del self.booster


class SkopsRuntime(Runtime):
    """An uploaded scikit-learn estimator (or pipeline) on numeric features."""

    platform = "sklearn"

    def __init__(self, path: Path, threads: int = 1, input_name: str = DEFAULT_INPUT) -> None:
        from services.trainer.library.skops_io import load_skops

        self.threads = threads
        self.estimator: Any = load_skops(path)
        if not callable(getattr(self.estimator, "predict", None)):
            raise FailedPrecondition(f"{path.name} holds no estimator with a predict method")
        _set_jobs(self.estimator, threads)
        names = getattr(self.estimator, "feature_names_in_", None)
        self._feature_names = None if names is None else [str(n) for n in names]
        width = int(getattr(self.estimator, "n_features_in_", -1))
        self.inputs = [TensorSpec(input_name, "FP64", [-1, width])]
        classes = getattr(self.estimator, "classes_", None)
        self._label_dtype = None if classes is None else _label_dtype(list(classes))
        self._proba = callable(getattr(self.estimator, "predict_proba", None))
        self.outputs = _specs_of(self.predict(synthetic_inputs(self.inputs)))

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        x: Any = _matrix(inputs, self.inputs[0], missing_allowed=False)
        if self._feature_names is not None:  # fitted on a DataFrame: keep its column names
            x = pd.DataFrame(x, columns=self._feature_names)
        raw = np.asarray(self.estimator.predict(x))
        if self._label_dtype is not None:
            predictions = _labels(raw, self._label_dtype)
        elif raw.dtype.kind in "iub":
            predictions = raw.astype(np.int64)
        else:
            predictions = raw.astype(np.float64)
        outputs = {PREDICTIONS: predictions}
        if self._proba:
            outputs[PROBABILITIES] = np.asarray(self.estimator.predict_proba(x), dtype=np.float64)
        return outputs

    def close(self) -> None:
        del self.estimator


_ONNX_TYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
    **{f"tensor(int{b})": f"INT{b}" for b in (8, 16, 32, 64)},
    **{f"tensor(uint{b})": f"UINT{b}" for b in (8, 16, 32, 64)},
}


def _onnx_spec(node: Any) -> TensorSpec | None:
    datatype = _ONNX_TYPES.get(node.type)
    if datatype is None:
        return None
    shape = [d if isinstance(d, int) and d >= 0 else -1 for d in node.shape]
    return TensorSpec(node.name, datatype, shape)


class OnnxRuntime(Runtime):
    """An ONNX graph on onnxruntime's CPU provider; non-tensor outputs (ZipMap's maps) are not
    served: export classifiers with ``zipmap=False``."""

    platform = "onnxruntime_onnx"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's Fail / InvalidGraph / NoSuchFile
            raise FailedPrecondition(f"{path.name} is not a loadable ONNX model: {exc}") from None
        self.inputs = []
        for node in self.session.get_inputs():
            spec = _onnx_spec(node)
            if spec is None:
                raise FailedPrecondition(f"ONNX input {node.name!r} is a {node.type}, not a tensor")
            self.inputs.append(spec)
        self.outputs = [s for s in map(_onnx_spec, self.session.get_outputs()) if s is not None]
        if not self.outputs:
            raise FailedPrecondition(f"{path.name} has no tensor outputs")
        self._output_names = [s.name for s in self.outputs]

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from onnxruntime.capi.onnxruntime_pybind11_state import (
            InvalidArgument as OrtInvalidArgument,
        )

        feed = {}
        for spec in self.inputs:
            if spec.name not in inputs:
                raise InvalidArgument(
                    f"the request has no input {spec.name!r}; this model takes "
                    f"{_names([s.name for s in self.inputs])}"
                )
            feed[spec.name] = _onnx_input(spec, np.asarray(inputs[spec.name]))
        extra = [name for name in inputs if name not in feed]
        if extra:
            raise InvalidArgument(f"input {extra[0]!r} is not an input of this model")
        try:
            values = self.session.run(self._output_names, feed)
        except OrtInvalidArgument as exc:
            raise InvalidArgument(f"the model refused the inputs: {exc}") from None
        return {
            name: np.asarray(value) for name, value in zip(self._output_names, values, strict=True)
        }

    def close(self) -> None:
        del self.session


def _onnx_input(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    label = f"input {spec.name!r}"
    if array.ndim != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, array.shape, strict=True)
    ):
        raise InvalidArgument(
            f"{label} has shape {list(array.shape)}; the model takes {spec.shape}"
        )
    if spec.datatype == "BYTES":
        if array.dtype.kind not in _TEXT:
            raise InvalidArgument(f"{label} is {datatype_of(array.dtype)}; send BYTES (text)")
        return np.array([_text(v) for v in array.ravel().tolist()], dtype=object).reshape(
            array.shape
        )
    if array.dtype.kind not in _NUMBERS:
        raise InvalidArgument(f"{label} is {datatype_of(array.dtype)}; send {spec.datatype}")
    return array.astype(dtype_of(spec.datatype), copy=False)


# -- dispatch -----------------------------------------------------------------------------------


def load_runtime(
    model_dir: Path,
    artifact_format: str,
    signature: rpb.ModelSignature | None = None,
    *,
    threads: int = 1,
) -> Runtime:
    """The runtime of a model version downloaded to ``model_dir``: a trainer model folder when
    it holds ``aimass-model.json`` (whatever the learner's format), else an uploaded file of
    ``artifact_format``. The signature names the single input of uploaded boosters and
    estimators. FailedPrecondition when the format is not one this server runs."""
    if model_dir.is_dir() and (model_dir / MANIFEST).is_file():
        return TrainerModelRuntime.load(model_dir, threads)
    name = _input_name(signature)
    if artifact_format == FORMAT_XGBOOST_UBJ:
        return BoosterRuntime(_artifact_file(model_dir, (".ubj",), "xgboost"), threads, name)
    if artifact_format == FORMAT_XGBOOST_JSON:
        return BoosterRuntime(_artifact_file(model_dir, (".json",), "xgboost"), threads, name)
    if artifact_format == FORMAT_SKOPS:
        return SkopsRuntime(_artifact_file(model_dir, (".skops",), "skops"), threads, name)
    if artifact_format == FORMAT_ONNX:
        return OnnxRuntime(_artifact_file(model_dir, (".onnx",), "ONNX"), threads)
    if artifact_format == FORMAT_SAFETENSORS:
        raise FailedPrecondition(
            "safetensors models are served from trainer model folders only (with "
            f"{MANIFEST}); upload {', '.join(SUPPORTED_FORMATS)} instead"
        )
    raise FailedPrecondition(
        f"artifact format {artifact_format!r} is not served; supported: "
        f"{', '.join(SUPPORTED_FORMATS)}, or a trainer model folder"
    )
