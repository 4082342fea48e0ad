"""Runtimes on real models: trainer model folders (xgboost, scikit-learn, torch) fitted on mixed
real data and served from raw columns, uploaded xgboost boosters, skops estimators and ONNX
graphs, each compared with the library that made it; and every refusal, naming the input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skops.io import dump

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.predictor.runtimes import (
    PREDICTIONS,
    PROBABILITIES,
    Runtime,
    TensorSpec,
    TrainerModelRuntime,
    load_runtime,
)
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import (
    FittedModel,
    ModelSpec,
    SequenceSettings,
    TrainingData,
    fit_model,
)
from services.trainer.library.preprocessing import Column, ColumnKind, resolve_choice

# -- data and models ----------------------------------------------------------------------------


def cancer() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Breast cancer with text labels, a text size band and holes in two numeric columns."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray(bunch.target_names, dtype=object)[bunch.target]
    frame["size_band"] = pd.cut(
        frame["mean radius"], [0, 12, 15, 20, np.inf], labels=["small", "medium", "large", "xl"]
    ).astype(object)
    frame.loc[frame.index[::9], "mean texture"] = np.nan
    frame.loc[frame.index[3::11], "worst area"] = np.nan
    return train_test_split(frame, test_size=0.25, random_state=0, stratify=frame.target)


def diabetes() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_diabetes(as_frame=True, scaled=False).frame.copy()
    frame["sex"] = frame["sex"].map({1.0: "one", 2.0: "two"}).astype(object)
    frame.loc[frame.index[::8], "bp"] = np.nan
    return train_test_split(frame, test_size=0.25, random_state=0)


def iris(band: bool = True) -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame.copy()
    if band:
        frame["petal_band"] = pd.cut(
            frame["petal length (cm)"], [0, 2.5, 5, np.inf], labels=["short", "medium", "long"]
        ).astype(object)
    return frame


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["target"])


def spec(
    name: str, task: Task, frame: pd.DataFrame, preprocessing: tpb.Preprocessing, **params: Any
) -> ModelSpec:
    info = get_algorithm(name)
    return ModelSpec(
        algorithm=info,
        task=task,
        params=info.resolve_params(params),
        columns=[
            Column(n, ColumnKind.CATEGORICAL, "string")
            if frame[n].dtype == object
            else Column(n, ColumnKind.NUMERIC, "double")
            for n in frame.columns
            if n != "target"
        ],
        preprocessing=resolve_choice(
            preprocessing,
            scale_by_default=info.scale_by_default,
            one_hot_by_default=info.one_hot_by_default,
            handles_missing=info.handles_missing,
        ),
        target="target" if task.supervised else "",
        options=FitOptions(seed=5),
    )


def fit(
    name: str,
    task: Task,
    train: pd.DataFrame,
    preprocessing: tpb.Preprocessing | None = None,
    **params: Any,
) -> FittedModel:
    target = train["target"] if task.supervised else None
    return fit_model(
        spec(name, task, train, preprocessing or tpb.Preprocessing(), **params),
        TrainingData(features(train), target),
    )


def _cases() -> dict[str, tuple[FittedModel, pd.DataFrame]]:
    cancer_train, cancer_test = cancer()
    diabetes_train, diabetes_test = diabetes()
    flowers = iris()
    return {
        "xgboost classifier": (
            fit("xgboost.gbdt", Task.CLASSIFICATION, cancer_train, n_estimators=30),
            cancer_test,
        ),
        "logistic regression": (
            fit("sklearn.logistic_regression", Task.CLASSIFICATION, cancer_train),
            cancer_test,
        ),
        "ridge": (fit("sklearn.ridge", Task.REGRESSION, diabetes_train), diabetes_test),
        "torch mlp": (
            fit("torch.mlp", Task.CLASSIFICATION, flowers, hidden_layers=[16], epochs=5),
            flowers,
        ),
        "kmeans": (fit("sklearn.kmeans", Task.CLUSTERING, flowers, n_clusters=3), flowers),
    }


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[FittedModel, pd.DataFrame]]:
    return _cases()


@pytest.fixture(scope="module")
def folders(
    cases: dict[str, tuple[FittedModel, pd.DataFrame]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    for name, (model, _) in cases.items():
        model.save(root / name.replace(" ", "_"))
    return {name: root / name.replace(" ", "_") for name in cases}


def per_column(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """One tensor per column as a request decodes: FP64 numbers, BYTES text."""
    arrays: dict[str, np.ndarray] = {}
    for name in features(frame).columns:
        values = frame[name]
        if values.dtype == object:
            arrays[name] = np.array([str(v).encode() for v in values], dtype=object)
        else:
            arrays[name] = values.to_numpy(dtype=np.float64)
    return arrays


def as_bytes_matrix(frame: pd.DataFrame) -> np.ndarray:
    """One 2-D BYTES tensor: numbers as text (NaN as empty), text as UTF-8."""

    def cell(value: object) -> bytes:
        if isinstance(value, float):
            return b"" if np.isnan(value) else repr(value).encode()
        return str(value).encode()

    rows = features(frame).itertuples(index=False)
    return np.array([[cell(v) for v in row] for row in rows], dtype=object)


def assert_same(outputs: dict[str, np.ndarray], model: FittedModel, frame: pd.DataFrame) -> None:
    expected = model.predict(features(frame))
    assert np.array_equal(outputs[PREDICTIONS], expected.predictions)
    if expected.probabilities is None:
        assert PROBABILITIES not in outputs
    else:
        assert outputs[PROBABILITIES].dtype == np.float64
        np.testing.assert_allclose(outputs[PROBABILITIES], expected.probabilities, atol=1e-12)


# -- trainer model folders ----------------------------------------------------------------------

CASES = ["xgboost classifier", "logistic regression", "ridge", "torch mlp", "kmeans"]
OUTPUTS = {
    "xgboost classifier": [
        TensorSpec(PREDICTIONS, "BYTES", [-1]),
        TensorSpec(PROBABILITIES, "FP64", [-1, 2]),
    ],
    "logistic regression": [
        TensorSpec(PREDICTIONS, "BYTES", [-1]),
        TensorSpec(PROBABILITIES, "FP64", [-1, 2]),
    ],
    "ridge": [TensorSpec(PREDICTIONS, "FP64", [-1])],
    "torch mlp": [
        TensorSpec(PREDICTIONS, "INT64", [-1]),
        TensorSpec(PROBABILITIES, "FP64", [-1, 3]),
    ],
    "kmeans": [TensorSpec(PREDICTIONS, "INT64", [-1])],
}


@pytest.mark.parametrize("case", CASES)
def test_a_trainer_model_predicts_as_the_library_from_columns_and_from_a_matrix(
    case: str, cases: dict[str, tuple[FittedModel, pd.DataFrame]], folders: dict[str, Path]
) -> None:
    model, frame = cases[case]
    runtime = load_runtime(folders[case], model.artifact_format)
    assert isinstance(runtime, TrainerModelRuntime)
    runtime.warm_up()
    assert [s.name for s in runtime.inputs] == [c.name for c in model.spec.columns]
    assert {s.datatype for s in runtime.inputs} == {"FP64", "BYTES"}
    assert runtime.outputs == OUTPUTS[case]
    rows = frame.head(40)
    assert_same(runtime.predict(per_column(rows)), model, rows)
    assert_same(runtime.predict({"anything": as_bytes_matrix(rows)}), model, rows)
    one = frame.head(1)
    assert_same(runtime.predict({k: v[:, None] for k, v in per_column(one).items()}), model, one)
    runtime.close()


def test_a_numeric_model_takes_one_fp32_matrix(tmp_path: Path) -> None:
    train, test = cancer()
    train, test = (f.drop(columns=["size_band"]) for f in (train, test))
    model = fit("xgboost.gbdt", Task.CLASSIFICATION, train, n_estimators=20)
    model.save(tmp_path)
    runtime = load_runtime(tmp_path, "xgboost-ubj", threads=2)
    matrix = features(test).to_numpy(dtype=np.float32)
    outputs = runtime.predict({"x": matrix})
    expected = model.predict(features(test).astype(np.float32))
    assert np.array_equal(outputs[PREDICTIONS], expected.predictions)
    assert expected.probabilities is not None
    np.testing.assert_allclose(outputs[PROBABILITIES], expected.probabilities)
    booster = runtime.model.learner.booster  # type: ignore[attr-defined]
    assert json.loads(booster.save_config())["learner"]["generic_param"]["nthread"] == "2"


def test_timestamps_booleans_and_missing_text(tmp_path: Path) -> None:
    """Timestamps as epoch seconds or ISO text, booleans as BOOL or words, empty text missing."""
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(
                rng.integers(1_600_000_000, 1_700_000_000, n), unit="s", utc=True
            ),
            "flag": rng.random(n) > 0.5,
            "size": rng.normal(size=n),
            "colour": rng.choice(np.array(["red", "blue"], dtype=object), n),
        }
    )
    frame["target"] = np.where(frame["flag"] ^ (frame["size"] > 0), "yes", "no")
    info = get_algorithm("sklearn.logistic_regression")
    model = fit_model(
        ModelSpec(
            algorithm=info,
            task=Task.CLASSIFICATION,
            params=info.resolve_params({}),
            columns=[
                Column("when", ColumnKind.DATETIME, "timestamp[s, tz=UTC]"),
                Column("flag", ColumnKind.BOOLEAN, "bool"),
                Column("size", ColumnKind.NUMERIC, "float"),
                Column("colour", ColumnKind.CATEGORICAL, "string"),
            ],
            preprocessing=resolve_choice(
                tpb.Preprocessing(),
                scale_by_default=True,
                one_hot_by_default=True,
                handles_missing=False,
            ),
            target="target",
        ),
        TrainingData(features(frame), frame["target"]),
    )
    model.save(tmp_path)
    runtime = load_runtime(tmp_path, "skops")
    assert [(s.name, s.datatype) for s in runtime.inputs] == [
        ("when", "INT64"),
        ("flag", "BOOL"),
        ("size", "FP32"),
        ("colour", "BYTES"),
    ]
    rows = features(frame).head(5)
    seconds = (rows["when"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    expected = model.predict(rows).predictions
    typed = {
        "when": seconds.to_numpy(np.int64),
        "flag": rows["flag"].to_numpy(),
        "size": rows["size"].to_numpy(np.float32).astype(np.float64),
        "colour": np.array([c.encode() for c in rows["colour"]], dtype=object),
    }
    text = np.array(
        [
            [t.isoformat().encode(), str(f).lower().encode(), repr(s).encode(), c.encode()]
            for t, f, s, c in rows.itertuples(index=False)
        ],
        dtype=object,
    )
    model.__dict__["compiled"] = None  # as a model only scikit-learn's path reproduces
    frame_path = TrainerModelRuntime(model)
    for served in (runtime, frame_path):
        assert np.array_equal(served.predict(typed)[PREDICTIONS], expected)
        assert np.array_equal(served.predict({"rows": text})[PREDICTIONS], expected)
    text[0, 2] = text[1, 3] = b""  # missing: imputed
    assert runtime.predict({"rows": text})[PREDICTIONS].shape == (5,)
    assert np.array_equal(
        runtime.predict({"rows": text})[PREDICTIONS],
        frame_path.predict({"rows": text})[PREDICTIONS],
    )


def test_a_forecaster_is_not_batchable_and_forecasts_every_window(tmp_path: Path) -> None:
    frame = pd.DataFrame({"level": np.sin(np.arange(80) / 5.0)})
    info = get_algorithm("torch.lstm")
    model = fit_model(
        ModelSpec(
            algorithm=info,
            task=Task.FORECASTING,
            params=info.resolve_params({"hidden_size": 8, "epochs": 2}),
            columns=[Column("level", ColumnKind.NUMERIC, "double")],
            preprocessing=resolve_choice(
                tpb.Preprocessing(),
                scale_by_default=True,
                one_hot_by_default=True,
                handles_missing=False,
            ),
            target="level",
            sequence=SequenceSettings(window=6, horizon=2),
        ),
        TrainingData(frame, frame["level"]),
    )
    model.save(tmp_path)
    runtime = load_runtime(tmp_path, "safetensors")
    assert not runtime.batchable and runtime.warm_up_rows == 6
    assert runtime.outputs == [TensorSpec(PREDICTIONS, "FP64", [-1, 2])]
    runtime.warm_up()
    outputs = runtime.predict({"level": frame["level"].to_numpy()[:10]})
    expected = model.predict(frame.head(10)).predictions
    assert outputs[PREDICTIONS].shape == (5, 2)
    np.testing.assert_allclose(outputs[PREDICTIONS], expected)


# -- uploaded models ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "objective", ["binary:logistic", "multi:softprob", "multi:softmax", "reg:squarederror"]
)
@pytest.mark.parametrize("suffix", ["ubj", "json"])
def test_an_uploaded_booster_predicts_as_xgboost(
    objective: str, suffix: str, tmp_path: Path
) -> None:
    x, y = load_iris(return_X_y=True)
    if objective.startswith("binary"):
        y = (y == 2).astype(int)
    params: dict[str, Any] = {"objective": objective, "max_depth": 3, "nthread": 1}
    if objective.startswith("multi"):
        params["num_class"] = 3
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=10)
    booster.save_model(str(tmp_path / f"model.{suffix}"))
    signature = rpb.ModelSignature(
        inputs=cpb.Schema(fields=[cpb.Field(name="features", type=cpb.DATA_TYPE_FP32)])
    )
    runtime = load_runtime(tmp_path, f"xgboost-{suffix}", signature)
    assert runtime.inputs == [TensorSpec("features", "FP32", [-1, 4])]
    runtime.warm_up()
    rows = x[::7].astype(np.float32)
    outputs = runtime.predict({"features": rows})
    if objective == "reg:squarederror":
        assert runtime.outputs == [TensorSpec(PREDICTIONS, "FP64", [-1])]
        np.testing.assert_allclose(outputs[PREDICTIONS], booster.inplace_predict(rows), rtol=1e-6)
        return
    classes = 2 if objective.startswith("binary") else 3
    assert runtime.outputs == [
        TensorSpec(PREDICTIONS, "INT64", [-1]),
        TensorSpec(PROBABILITIES, "FP64", [-1, classes]),
    ]
    proba = outputs[PROBABILITIES]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if objective == "binary:logistic":
        np.testing.assert_allclose(proba[:, 1], booster.inplace_predict(rows), rtol=1e-6)
    elif objective == "multi:softprob":
        np.testing.assert_allclose(proba, booster.inplace_predict(rows), rtol=1e-6)
    else:
        assert np.array_equal(outputs[PREDICTIONS], booster.inplace_predict(rows).astype(int))
    assert np.array_equal(outputs[PREDICTIONS], proba.argmax(axis=1))


def test_an_uploaded_skops_estimator_predicts_as_scikit_learn(tmp_path: Path) -> None:
    frame = iris(band=False)
    labels = np.asarray(load_iris().target_names, dtype=object)[frame["target"]]
    x = features(frame)  # a DataFrame: the estimator keeps feature names
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, labels)
    dump(estimator, tmp_path / "model.skops")
    runtime = load_runtime(tmp_path, "skops")
    assert runtime.inputs == [TensorSpec("input", "FP64", [-1, 4])]
    assert runtime.outputs == [
        TensorSpec(PREDICTIONS, "BYTES", [-1]),
        TensorSpec(PROBABILITIES, "FP64", [-1, 3]),
    ]
    outputs = runtime.predict({"input": x.to_numpy()[::5]})
    assert np.array_equal(outputs[PREDICTIONS], estimator.predict(x.iloc[::5]))
    np.testing.assert_allclose(outputs[PROBABILITIES], estimator.predict_proba(x.iloc[::5]))


def test_an_uploaded_forest_on_arrays_predicts_int_labels(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=4).fit(x, y)
    dump(forest, tmp_path / "forest.skops")
    runtime = load_runtime(tmp_path / "forest.skops", "skops")
    assert runtime.outputs[0] == TensorSpec(PREDICTIONS, "INT64", [-1])
    assert np.array_equal(runtime.predict({"input": x})[PREDICTIONS], forest.predict(x))
    assert runtime.estimator.n_jobs == 1  # type: ignore[attr-defined]


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def test_a_skops_file_with_a_disallowed_type_is_refused(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    pipeline = Pipeline(
        [("double", FunctionTransformer(_double)), ("fit", LogisticRegression(max_iter=2000))]
    )
    dump(pipeline.fit(x, y), tmp_path / "model.skops")
    with pytest.raises(FailedPrecondition, match="_double"):
        load_runtime(tmp_path, "skops")


def test_an_onnx_export_predicts_as_its_source(tmp_path: Path) -> None:
    from skl2onnx import to_onnx

    x, y = load_iris(return_X_y=True)
    source = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    graph = to_onnx(source, x[:1].astype(np.float32), options={"zipmap": False})
    (tmp_path / "model.onnx").write_bytes(graph.SerializeToString())
    runtime = load_runtime(tmp_path, "onnx")
    assert runtime.inputs == [TensorSpec("X", "FP32", [-1, 4])]
    assert runtime.outputs == [
        TensorSpec("label", "INT64", [-1]),
        TensorSpec("probabilities", "FP32", [-1, 3]),
    ]
    runtime.warm_up()
    outputs = runtime.predict({"X": x})  # FP64 in: converted to the graph's FP32
    assert np.array_equal(outputs["label"], source.predict(x))
    np.testing.assert_allclose(outputs["probabilities"], source.predict_proba(x), atol=1e-5)
    with pytest.raises(InvalidArgument, match="'X'"):
        runtime.predict({"X": x[:, :3]})
    with pytest.raises(InvalidArgument, match="'Y'"):
        runtime.predict({"X": x, "Y": x})
    with pytest.raises(InvalidArgument, match="'X'"):
        runtime.predict({"Z": x})
    runtime.close()


@pytest.mark.parametrize(
    ("artifact_format", "message"),
    [("pickle", "not served; supported: skops"), ("safetensors", "trainer model folders")],
)
def test_unknown_formats_are_a_failed_precondition(
    artifact_format: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(FailedPrecondition, match=message):
        load_runtime(tmp_path, artifact_format)


# -- refusals -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cancer_runtime(folders: dict[str, Path]) -> Runtime:
    return load_runtime(folders["logistic regression"], "skops")


def _rows() -> dict[str, np.ndarray]:
    return per_column(cancer()[1].head(3))


def _without(name: str) -> dict[str, np.ndarray]:
    rows = _rows()
    del rows[name]
    return rows


def _with(name: str, value: np.ndarray) -> dict[str, np.ndarray]:
    return {**_rows(), name: value}


def _matrix_with(row: int, column: int, value: Any) -> dict[str, np.ndarray]:
    matrix = as_bytes_matrix(cancer()[1].head(3))
    matrix[row, column] = value
    return {"rows": matrix}


def _numbers_with_inf() -> dict[str, np.ndarray]:
    matrix = np.ones((3, 31))
    matrix[1, 23] = -np.inf
    return {"rows": matrix}


BAD_INPUTS = {
    "missing column": (lambda: _without("mean radius"), "'mean radius'"),
    "extra input": (lambda: {**_rows(), "bogus": np.zeros(3)}, "'bogus'"),
    "matrix width": (lambda: {"rows": np.zeros((3, 5))}, "'rows' has 5 columns"),
    "text for a number": (
        lambda: _with("mean radius", np.array([b"1", b"abc", b"2"], dtype=object)),
        "'mean radius'",
    ),
    "text in a matrix": (lambda: _matrix_with(2, 0, b"wide"), "'mean radius' .*'rows'"),
    "infinity": (
        lambda: _with("worst area", np.array([1.0, np.inf, 2.0])),
        "'worst area' holds an infinite",
    ),
    "infinity in a matrix": (_numbers_with_inf, "'worst area' .*'rows'.* infinite"),
    "column shape": (lambda: _with("mean radius", np.zeros((3, 2))), "'mean radius' has shape"),
    "column lengths": (lambda: _with("worst area", np.zeros(4)), "'worst area' has 4 rows"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_are_refused_naming_the_input(case: str, cancer_runtime: Runtime) -> None:
    make, message = BAD_INPUTS[case]
    with pytest.raises(InvalidArgument, match=message):
        cancer_runtime.predict(make())


def test_missing_values_are_refused_where_the_model_imputes_none(tmp_path: Path) -> None:
    frame = iris(band=False)
    none = tpb.Preprocessing(numeric_imputation=tpb.IMPUTATION_NONE)
    fit("sklearn.logistic_regression", Task.CLASSIFICATION, frame, none).save(tmp_path)
    runtime = load_runtime(tmp_path, "skops")
    rows = per_column(frame.head(2))
    rows["petal width (cm)"] = np.array([0.2, np.nan])
    with pytest.raises(InvalidArgument, match="'petal width \\(cm\\)' holds a missing value"):
        runtime.predict(rows)


def test_an_uploaded_booster_refuses_the_wrong_width(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True)
    xgb.train({"nthread": 1}, xgb.DMatrix(x, label=y), 2).save_model(str(tmp_path / "m.ubj"))
    runtime = load_runtime(tmp_path, "xgboost-ubj")
    with pytest.raises(InvalidArgument, match="'input' has shape \\[2, 3\\]"):
        runtime.predict({"input": np.zeros((2, 3))})
    with pytest.raises(InvalidArgument, match="'input' is BYTES"):
        runtime.predict({"input": np.full((2, 4), b"1", dtype=object)})
    with pytest.raises(InvalidArgument, match="one 2-D tensor"):
        runtime.predict({"a": np.zeros((2, 4)), "b": np.zeros((2, 4))})
