"""Evaluation and cross-validation on scikit-learn's bundled data sets: every metric against
scikit-learn's own on the same predictions, the artifacts' shapes, feature importance (the
learner's own and by permutation), each cross-validation method's folds, and the checks that
refuse a cross-validation before any work."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.library import evaluation
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import FittedModel, ModelSpec, TrainingData, fit_model
from services.trainer.library.preprocessing import Column, ColumnKind, PreprocessingChoice

SCALED = PreprocessingChoice("median", "constant", "one_hot", "standard", 50)


def _frame(loader: Callable[..., Any]) -> pd.DataFrame:
    frame: pd.DataFrame = loader(as_frame=True).frame
    return frame


def _spec(
    algorithm: str, task: Task, frame: pd.DataFrame, target: str = "target", seed: int = 7, **p: Any
) -> ModelSpec:
    info = get_algorithm(algorithm)
    columns = [Column(c, ColumnKind.NUMERIC, "double") for c in frame.columns if c != target]
    return ModelSpec(
        info,
        task,
        info.resolve_params(p),
        columns,
        SCALED,
        target if task.supervised else "",
        options=FitOptions(seed=seed),
    )


def _data(frame: pd.DataFrame, target: str | None = "target") -> TrainingData:
    if target is None:
        return TrainingData(frame.drop(columns="target", errors="ignore"))
    return TrainingData(frame.drop(columns=target), frame[target])


def _split(frame: pd.DataFrame, stratify: bool = True) -> tuple[TrainingData, TrainingData]:
    train, test = train_test_split(
        frame, test_size=0.3, random_state=0, stratify=frame["target"] if stratify else None
    )
    return _data(train), _data(test)


def _fit(spec: ModelSpec, train: TrainingData) -> FittedModel:
    return fit_model(spec, train)


def _normalised(proba: np.ndarray | None) -> np.ndarray:
    """float32 probabilities as float64 rows summing to 1 (what scikit-learn's log loss wants)."""
    assert proba is not None
    wide = proba.astype(np.float64)
    return wide / wide.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Metrics against scikit-learn


def test_binary_classification_metrics_match_sklearn() -> None:
    frame = _frame(load_breast_cancer)
    train, test = _split(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), train)
    names = evaluation.KNOWN_METRICS[Task.CLASSIFICATION]
    result = evaluation.evaluate(model, test, names)
    predicted = model.predict(test.features)
    assert test.target is not None and predicted.probabilities is not None
    y, proba = test.target.to_numpy(), _normalised(predicted.probabilities)
    assert model.classes == [0, 1]
    expected = {
        "accuracy": skm.accuracy_score(y, predicted.predictions),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted.predictions),
        "precision": skm.precision_score(y, predicted.predictions),
        "recall": skm.recall_score(y, predicted.predictions),
        "f1": skm.f1_score(y, predicted.predictions),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
        "average_precision": skm.average_precision_score(y, proba[:, 1]),
        "log_loss": skm.log_loss(y, proba),
    }
    assert set(result.metrics) == set(names)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, rel=1e-6), name
    assert result.metrics["accuracy"] >= 0.93
    assert result.warnings == []
    assert result.rows == len(test)


def test_multiclass_metrics_are_macro_and_one_vs_rest() -> None:
    frame = _frame(load_wine)
    train, test = _split(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), train)
    result = evaluation.evaluate(model, test, evaluation.KNOWN_METRICS[Task.CLASSIFICATION])
    predicted = model.predict(test.features)
    assert test.target is not None and predicted.probabilities is not None
    y, labels = test.target.to_numpy(), predicted.predictions
    proba = _normalised(predicted.probabilities)
    assert result.metrics["precision"] == pytest.approx(
        skm.precision_score(y, labels, average="macro")
    )
    assert result.metrics["recall"] == pytest.approx(skm.recall_score(y, labels, average="macro"))
    assert result.metrics["f1"] == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert result.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert result.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))


def test_multiclass_metrics_on_rows_that_lack_a_class() -> None:
    frame = _frame(load_iris)
    train, _ = _split(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), train)
    two_classes = frame[frame["target"] != 0]
    rows = _data(two_classes)
    result = evaluation.evaluate(model, rows, evaluation.KNOWN_METRICS[Task.CLASSIFICATION])
    assert result.warnings == []
    predicted = model.predict(rows.features)
    y, labels = two_classes["target"].to_numpy(), predicted.predictions
    proba = _normalised(predicted.probabilities)
    # Macro means over the classes in the rows or the predictions, not the absent class 0.
    assert result.metrics["f1"] == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert result.metrics["balanced_accuracy"] == pytest.approx(
        skm.recall_score(y, labels, labels=[1, 2], average="macro")
    )
    # One-vs-rest ROC-AUC over the classes present.
    expected_auc = np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in (1, 2)])
    assert result.metrics["roc_auc"] == pytest.approx(expected_auc)
    assert result.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))


def test_regression_metrics_match_sklearn() -> None:
    frame = _frame(load_diabetes)
    train, test = _split(frame, stratify=False)
    model = _fit(_spec("sklearn.ridge", Task.REGRESSION, frame), train)
    result = evaluation.evaluate(model, test, evaluation.KNOWN_METRICS[Task.REGRESSION])
    assert test.target is not None
    y, predicted = test.target.to_numpy(), model.predict(test.features).predictions
    assert result.metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(y, predicted))
    assert result.metrics["mse"] == pytest.approx(skm.mean_squared_error(y, predicted))
    assert result.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted))
    assert result.metrics["r2"] == pytest.approx(skm.r2_score(y, predicted))
    assert result.metrics["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, predicted))
    # A linear model explains a good share of the diabetes progression.
    assert 0.3 < result.metrics["r2"] < 0.7


def test_clustering_metrics_match_sklearn() -> None:
    frame = _frame(load_iris)
    data = _data(frame, None)
    model = _fit(_spec("sklearn.kmeans", Task.CLUSTERING, frame, n_clusters=3), data)
    result = evaluation.evaluate(model, data, evaluation.KNOWN_METRICS[Task.CLUSTERING])
    x, labels = model.matrix(data.features), model.predict(data.features).predictions
    assert result.metrics["silhouette"] == pytest.approx(skm.silhouette_score(x, labels))
    assert result.metrics["davies_bouldin"] == pytest.approx(skm.davies_bouldin_score(x, labels))
    assert result.metrics["calinski_harabasz"] == pytest.approx(
        skm.calinski_harabasz_score(x, labels)
    )
    sizes = result.artifacts["cluster_sizes"]
    assert sizes["labels"] == [0, 1, 2] and sum(sizes["sizes"]) == len(frame)
    assert result.artifacts["noise_rows"] == 0


def test_dbscan_noise_is_left_out_of_the_silhouette() -> None:
    frame = _frame(load_iris)
    data = _data(frame, None)
    model = _fit(_spec("sklearn.dbscan", Task.CLUSTERING, frame, eps=0.5, min_samples=5), data)
    result = evaluation.evaluate(model, data)
    x, labels = model.matrix(data.features), model.predict(data.features).predictions
    kept = labels != -1
    assert 0 < np.count_nonzero(~kept) < len(labels)
    assert result.metrics["silhouette"] == pytest.approx(
        skm.silhouette_score(x[kept], labels[kept])
    )
    assert result.artifacts["noise_rows"] == np.count_nonzero(~kept)


@pytest.mark.parametrize("whiten", [False, True])
def test_explained_variance_matches_pca(whiten: bool) -> None:
    frame = _frame(load_diabetes)
    data = _data(frame, None)
    spec = _spec("sklearn.pca", Task.DIMENSIONALITY_REDUCTION, frame, n_components=4, whiten=whiten)
    model = _fit(spec, data)
    result = evaluation.evaluate(model, data)
    reference = PCA(n_components=4).fit(model.matrix(data.features))
    ratios = result.artifacts["explained_variance_ratio"]
    assert ratios == pytest.approx(reference.explained_variance_ratio_.tolist(), abs=1e-5)
    assert result.metrics["explained_variance"] == pytest.approx(
        reference.explained_variance_ratio_.sum(), abs=1e-5
    )
    assert result.artifacts["cumulative_explained_variance_ratio"][-1] == pytest.approx(
        result.metrics["explained_variance"], abs=1e-5
    )


def test_a_metric_that_cannot_be_computed_is_left_out_with_a_warning() -> None:
    frame = _frame(load_breast_cancer)
    train, _ = _split(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), train)
    one_class = frame[frame["target"] == 1].head(40)
    result = evaluation.evaluate(model, _data(one_class))
    assert "roc_auc" not in result.metrics
    assert any(
        w.startswith("roc_auc was not computed: the rows hold one class") for w in result.warnings
    )
    assert all(np.isfinite(v) for v in result.metrics.values())
    assert {"accuracy", "log_loss"} <= set(result.metrics)
    assert "roc_curve" not in result.artifacts


def test_metric_names_are_checked() -> None:
    assert evaluation.validate_metrics(Task.REGRESSION, []) == ("rmse", "mae", "r2")
    assert evaluation.validate_metrics(Task.CLASSIFICATION, ["f1", "f1", "accuracy"]) == (
        "f1",
        "accuracy",
    )
    with pytest.raises(InvalidArgument, match="regression has no metric 'roc_auc'; its metrics"):
        evaluation.validate_metrics(Task.REGRESSION, ["rmse", "roc_auc"])
    for task, names in evaluation.DEFAULT_METRICS.items():
        assert evaluation.validate_metrics(task, list(names)) == names
    assert evaluation.direction("roc_auc") == "maximize"
    assert evaluation.direction("log_loss") == "minimize"
    assert evaluation.direction("davies_bouldin") == "minimize"
    assert evaluation.direction("silhouette") == "maximize"
    with pytest.raises(InvalidArgument, match="unknown metric 'auc'"):
        evaluation.direction("auc")


# ---------------------------------------------------------------------------------------------
# Artifacts


def test_classification_artifacts() -> None:
    frame = _frame(load_breast_cancer)
    data = _data(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), data)
    result = evaluation.evaluate(model, data)
    artifacts = result.artifacts
    json.dumps(artifacts, allow_nan=False)
    confusion = artifacts["confusion_matrix"]
    assert confusion["labels"] == [0, 1]
    predicted = model.predict(data.features).predictions
    assert confusion["matrix"] == skm.confusion_matrix(frame["target"], predicted).tolist()
    (roc,) = artifacts["roc_curve"]
    (pr,) = artifacts["pr_curve"]
    assert roc["label"] == pr["label"] == 1
    assert roc["auc"] == pytest.approx(result.metrics["roc_auc"])
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"]) <= 200
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == roc["tpr"][-1] == 1.0
    assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"])
    # The precision-recall curve has a point per distinct score: thinned to 200, ends kept.
    assert len(pr["precision"]) == len(pr["recall"]) == 200
    assert pr["recall"][0] == 1.0 and pr["recall"][-1] == 0.0 and pr["precision"][-1] == 1.0
    proba = _normalised(model.predict(data.features).probabilities)
    assert pr["average_precision"] == pytest.approx(
        skm.average_precision_score(frame["target"], proba[:, 1])
    )


def test_multiclass_curves_are_one_vs_rest_per_class() -> None:
    frame = _frame(load_iris)
    train, test = _split(frame)
    model = _fit(_spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame), train)
    artifacts = evaluation.evaluate(model, test).artifacts
    assert [c["label"] for c in artifacts["roc_curve"]] == [0, 1, 2]
    assert [c["label"] for c in artifacts["pr_curve"]] == [0, 1, 2]
    assert np.array(artifacts["confusion_matrix"]["matrix"]).sum() == len(test)


def test_feature_importance_of_the_learner_is_mapped_to_feature_names() -> None:
    frame = _frame(load_breast_cancer)
    data = _data(frame)
    model = _fit(_spec("sklearn.random_forest", Task.CLASSIFICATION, frame, n_estimators=30), data)
    artifacts = evaluation.evaluate(model, data).artifacts
    assert artifacts["feature_importance_method"] == "model"
    ranked = artifacts["feature_importance"]
    own = model.learner.feature_importance()
    assert own is not None
    expected = sorted(zip(model.feature_names, own, strict=True), key=lambda p: -p[1])
    assert [r["feature"] for r in ranked] == [name for name, _ in expected]
    assert [r["importance"] for r in ranked] == pytest.approx([w for _, w in expected], abs=1e-6)


def test_permutation_importance_when_the_learner_has_none() -> None:
    frame = _frame(load_diabetes)
    train, test = _split(frame, stratify=False)
    model = _fit(_spec("sklearn.knn", Task.REGRESSION, frame, n_neighbors=15), train)
    assert model.learner.feature_importance() is None
    artifacts = evaluation.evaluate(model, test).artifacts
    assert artifacts["feature_importance_method"] == "permutation"
    ranked = artifacts["feature_importance"]
    assert len(ranked) == 10
    importances = [r["importance"] for r in ranked]
    assert importances == sorted(importances, reverse=True)
    # Body mass index and s5 (log serum triglycerides) carry most of the diabetes signal.
    top = {r["feature"].removeprefix("numeric__") for r in ranked[:3]}
    assert {"bmi", "s5"} <= top, ranked[:3]
    assert ranked[0]["importance"] > 0.05
    # The sex column carries almost nothing for the neighbours.
    assert abs(next(r for r in ranked if r["feature"].endswith("sex"))["importance"]) < 0.05


def test_regression_artifacts() -> None:
    frame = _frame(load_diabetes)
    data = _data(frame)
    model = _fit(_spec("sklearn.ridge", Task.REGRESSION, frame), data)
    artifacts = evaluation.evaluate(model, data).artifacts
    json.dumps(artifacts, allow_nan=False)
    scatter = artifacts["predicted_vs_actual"]
    assert len(scatter["actual"]) == len(scatter["predicted"]) == 200
    assert scatter["actual"][0] == frame["target"].iloc[0]
    assert abs(artifacts["residuals"]["mean"]) < 1e-3  # least squares with an intercept
    quantiles = artifacts["residuals"]["quantiles"]
    assert quantiles["p05"] < quantiles["p50"] < quantiles["p95"]


# ---------------------------------------------------------------------------------------------
# Cross-validation


def _folds(
    method: tpb.CvMethod, frame: pd.DataFrame, groups: Any = None, **cv: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    task = Task.CLASSIFICATION if method == tpb.CV_METHOD_STRATIFIED_KFOLD else Task.REGRESSION
    spec = _spec("sklearn.ridge" if task is Task.REGRESSION else "sklearn.knn", task, frame)
    resolved = evaluation.check_folds(
        tpb.CrossValidation(method=method, **cv), task, len(frame), frame["target"], groups
    )
    return evaluation.fold_indices(resolved, _data(frame), groups, spec.options.seed)


def test_kfold_cross_validation_on_breast_cancer() -> None:
    frame = _frame(load_breast_cancer)
    spec = _spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame)
    seen: list[tuple[int, int, dict[str, float]]] = []
    cv = tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD, folds=4, shuffle=True)
    result = evaluation.cross_validate(
        spec,
        _data(frame),
        cv,
        ["accuracy", "roc_auc"],
        on_fold=lambda i, n, m: seen.append((i, n, dict(m))),
    )
    assert result.cv == evaluation.ResolvedCv("kfold", 4, True, 0)
    assert [(i, n) for i, n, _ in seen] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert [m for _, _, m in seen] == result.folds
    assert sum(test for _, test in result.sizes) == len(frame)
    for name in ("accuracy", "roc_auc"):
        values = [fold[name] for fold in result.folds]
        assert result.mean[name] == pytest.approx(np.mean(values))
        assert result.std[name] == pytest.approx(np.std(values))
    assert result.mean["accuracy"] >= 0.95
    again = evaluation.cross_validate(spec, _data(frame), cv, ["accuracy", "roc_auc"])
    assert again.folds == result.folds  # the seed fixes the shuffle


def test_preprocessing_is_fitted_on_each_folds_training_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _frame(load_diabetes)
    fitted: list[FittedModel] = []
    evaluated: list[pd.Index] = []
    real_fit, real_evaluate = evaluation.fit_model, evaluation.evaluate

    def fit(spec: ModelSpec, train: TrainingData, *args: Any) -> FittedModel:
        fitted.append(real_fit(spec, train, *args))
        return fitted[-1]

    def evaluate(model: FittedModel, data: TrainingData, *args: Any, **kw: Any) -> Any:
        evaluated.append(data.features.index)
        return real_evaluate(model, data, *args, **kw)

    monkeypatch.setattr(evaluation, "fit_model", fit)
    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    spec = _spec("sklearn.ridge", Task.REGRESSION, frame)
    cv = tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD, folds=3, shuffle=True)
    evaluation.cross_validate(spec, _data(frame), cv, ["rmse"])
    assert len(fitted) == len(evaluated) == 3
    features = frame.drop(columns="target")
    for model, test_index in zip(fitted, evaluated, strict=True):
        train_rows = features.drop(index=test_index)
        scaler = model.preprocessor.named_transformers_["numeric"].named_steps["scale"]
        assert scaler.mean_ == pytest.approx(train_rows.mean().to_numpy())
        assert scaler.n_samples_seen_ == len(train_rows)


def test_stratified_folds_keep_the_class_proportions() -> None:
    frame = _frame(load_wine)
    overall = frame["target"].value_counts(normalize=True).sort_index()
    folds = _folds(tpb.CV_METHOD_STRATIFIED_KFOLD, frame, folds=5, shuffle=True)
    assert len(folds) == 5
    for _, test in folds:
        share = frame["target"].iloc[test].value_counts(normalize=True).sort_index()
        assert (share - overall).abs().max() < 0.05
    spec = _spec("sklearn.logistic_regression", Task.CLASSIFICATION, frame)
    result = evaluation.cross_validate(
        spec, _data(frame), tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD), ["f1"]
    )
    assert result.cv.folds == 5 and result.mean["f1"] > 0.9


def test_group_folds_keep_each_group_on_one_side() -> None:
    frame = _frame(load_diabetes)
    # Patients grouped by age band: a group never appears in both a fold's train and test rows.
    groups = pd.cut(frame["age"], 8, labels=False).to_numpy()
    folds = _folds(tpb.CV_METHOD_GROUP_KFOLD, frame, groups, folds=4)
    assert len(folds) == 4
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(frame)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    spec = _spec("sklearn.ridge", Task.REGRESSION, frame)
    result = evaluation.cross_validate(
        spec,
        _data(frame),
        tpb.CrossValidation(method=tpb.CV_METHOD_GROUP_KFOLD, folds=4),
        ["rmse"],
        groups=groups,
    )
    assert len(result.folds) == 4 and 40 < result.mean["rmse"] < 80


def test_time_series_folds_expand_in_row_order_with_a_gap() -> None:
    frame = _frame(load_diabetes)
    folds = _folds(tpb.CV_METHOD_TIME_SERIES, frame, folds=4, gap=10)
    test_size = len(frame) // 5
    previous_end = -1
    for train, test in folds:
        assert train[0] == 0 and np.all(np.diff(train) == 1)
        assert test[0] == train[-1] + 1 + 10  # the gap
        assert len(test) == test_size and test[0] > previous_end
        previous_end = test[-1]
    assert [len(t) for t, _ in folds] == sorted(len(t) for t, _ in folds)
    assert folds[-1][1][-1] == len(frame) - 1
    spec = _spec("sklearn.ridge", Task.REGRESSION, frame)
    result = evaluation.cross_validate(
        spec,
        _data(frame),
        tpb.CrossValidation(method=tpb.CV_METHOD_TIME_SERIES, folds=4, gap=10),
        ["rmse", "r2"],
    )
    assert result.sizes == [(len(t), len(v)) for t, v in folds]


def test_time_series_folds_split_each_series_on_its_own() -> None:
    frame = _frame(load_diabetes)
    series = pd.Series(np.where(frame["sex"] > 0, "a", "b"), index=frame.index)
    data = TrainingData(frame.drop(columns="target"), frame["target"], series=series)
    resolved = evaluation.check_folds(
        tpb.CrossValidation(method=tpb.CV_METHOD_TIME_SERIES, folds=3), Task.REGRESSION, len(frame)
    )
    for train, test in evaluation.fold_indices(resolved, data, None, 0):
        for name in ("a", "b"):
            rows = np.flatnonzero(series.to_numpy() == name)
            in_train, in_test = np.intersect1d(train, rows), np.intersect1d(test, rows)
            assert len(in_train) and len(in_test) and in_train.max() < in_test.min()


def test_a_fold_listener_may_stop_cross_validation() -> None:
    frame = _frame(load_diabetes)
    spec = _spec("sklearn.ridge", Task.REGRESSION, frame)

    def stop(index: int, total: int, values: Any) -> None:
        if index == 1:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        evaluation.cross_validate(
            spec, _data(frame), tpb.CrossValidation(folds=5), (), on_fold=stop
        )


def test_check_folds_defaults() -> None:
    cv = tpb.CrossValidation()
    assert evaluation.check_folds(cv, Task.CLASSIFICATION, 100) == evaluation.ResolvedCv(
        "stratified_kfold", 5
    )
    assert evaluation.check_folds(cv, Task.REGRESSION, 100).method == "kfold"
    assert evaluation.check_folds(cv, Task.FORECASTING, 100).method == "time_series"


@pytest.mark.parametrize(
    ("cv", "task", "rows", "message"),
    [
        (tpb.CrossValidation(folds=1), Task.REGRESSION, 100, "cv.folds is 1: send 2..20"),
        (tpb.CrossValidation(folds=21), Task.REGRESSION, 100, "cv.folds is 21"),
        (tpb.CrossValidation(folds=10), Task.REGRESSION, 15, "too few rows for 10-fold"),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD),
            Task.REGRESSION,
            100,
            "stratified cross-validation needs classes",
        ),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD),
            Task.FORECASTING,
            100,
            "forecasting takes only time-series cross-validation",
        ),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_TIME_SERIES, folds=5, gap=90),
            Task.REGRESSION,
            100,
            "cv.gap 90 is too large",
        ),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_TIME_SERIES, folds=5),
            Task.REGRESSION,
            5,
            "too few rows for 5 time-series folds",
        ),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_TIME_SERIES, shuffle=True),
            Task.REGRESSION,
            100,
            "unset cv.shuffle",
        ),
        (
            tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD, gap=3),
            Task.REGRESSION,
            100,
            "cv.gap applies to TIME_SERIES",
        ),
    ],
)
def test_check_folds_refuses(cv: tpb.CrossValidation, task: Task, rows: int, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        evaluation.check_folds(cv, task, rows)


def test_check_folds_refuses_a_class_rarer_than_the_folds() -> None:
    frame = _frame(load_iris)
    rare = pd.concat([frame[frame["target"] != 2], frame[frame["target"] == 2].head(3)])
    cv = tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD, folds=5)
    with pytest.raises(
        InvalidArgument, match=r"at least 5 rows of each class; rarer: 2 \(3 rows\)"
    ):
        evaluation.check_folds(cv, Task.CLASSIFICATION, len(rare), rare["target"])
    spec = _spec("sklearn.logistic_regression", Task.CLASSIFICATION, rare)
    with pytest.raises(InvalidArgument, match="rarer"):
        evaluation.cross_validate(spec, _data(rare), cv, ())
    assert (
        evaluation.check_folds(
            tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD, folds=3),
            Task.CLASSIFICATION,
            len(rare),
            rare["target"],
        ).folds
        == 3
    )


def test_check_folds_refuses_fewer_groups_than_folds() -> None:
    frame = _frame(load_diabetes)
    groups = pd.cut(frame["age"], 3, labels=False).to_numpy()
    cv = tpb.CrossValidation(method=tpb.CV_METHOD_GROUP_KFOLD, folds=4)
    with pytest.raises(InvalidArgument, match="at least 4 groups; the group column has 3"):
        evaluation.check_folds(cv, Task.REGRESSION, len(frame), groups=groups)
    with pytest.raises(InvalidArgument, match="3 group values for 442 training rows"):
        evaluation.check_folds(cv, Task.REGRESSION, len(frame), groups=groups[:3])
    # Before the rows are loaded the groups are unknown: only the fold count is checked.
    assert evaluation.check_folds(cv, Task.REGRESSION, len(frame)).folds == 4
    spec = _spec("sklearn.ridge", Task.REGRESSION, frame)
    with pytest.raises(InvalidArgument, match="group cross-validation needs groups"):
        evaluation.cross_validate(spec, _data(frame), cv, ())
