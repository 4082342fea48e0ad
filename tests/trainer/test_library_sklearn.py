"""The scikit-learn algorithms on scikit-learn's bundled data: each clears a sanity bar on held-out
rows, saves and loads to identical predictions, is reproducible by seed, and refuses bad
hyperparameters and untrusted files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.metrics import adjusted_rand_score, r2_score, silhouette_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skops.io import dump

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import FORMAT_SKOPS, FitOptions, Learner, SavedLearner, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.sklearn_algorithms import ALGORITHMS
from services.trainer.library.sklearn_learners import SklearnLearner
from services.trainer.library.skops_io import is_trusted

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def split(loader: Callable[..., Any], task: Task) -> Split:
    """A fixed 75/25 split (stratified for classification), standardised on the training rows
    as the model's preprocessing would."""
    x, y = loader(return_X_y=True)
    stratify = y if task is Task.CLASSIFICATION else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=stratify
    )
    scaler = StandardScaler().fit(x_train)
    cast = np.int64 if task is Task.CLASSIFICATION else np.float64
    return (
        scaler.transform(x_train).astype(np.float32),
        scaler.transform(x_test).astype(np.float32),
        y_train.astype(cast),
        y_test.astype(cast),
    )


def iris_scaled() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(x).astype(np.float32), y


def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Both None, or equal arrays."""
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b))


def fitted(name: str, task: Task, x: np.ndarray, y: np.ndarray | None, **params: Any) -> Learner:
    learner = get_algorithm(name).build(task, params, FitOptions(seed=7, threads=1))
    learner.fit(x, y)
    return learner


# Held-out accuracy bars, each a few points under what the fixed split gives (in brackets) and
# far above the majority class (breast cancer 0.63, wine 0.40): a broken fit cannot pass.
CLASSIFICATION_BARS = [
    ("sklearn.logistic_regression", load_breast_cancer, {}, 0.93),  # [0.958]
    ("sklearn.logistic_regression", load_wine, {}, 0.93),  # [1.0]
    ("sklearn.decision_tree", load_breast_cancer, {}, 0.90),  # [0.923]
    ("sklearn.decision_tree", load_wine, {}, 0.85),  # [0.889]
    ("sklearn.random_forest", load_breast_cancer, {}, 0.93),  # [0.944]
    ("sklearn.random_forest", load_wine, {}, 0.95),  # [1.0]
    ("sklearn.svm", load_breast_cancer, {}, 0.93),  # [0.951]
    ("sklearn.svm", load_wine, {"kernel": "linear"}, 0.93),  # [0.978]
    ("sklearn.knn", load_breast_cancer, {}, 0.93),  # [0.951]
    ("sklearn.knn", load_wine, {"weights": "distance"}, 0.90),  # [0.933]
]


@pytest.mark.parametrize(("name", "loader", "params", "bar"), CLASSIFICATION_BARS)
def test_classifiers_clear_their_bar_on_held_out_rows(
    name: str, loader: Callable[..., Any], params: dict[str, Any], bar: float
) -> None:
    x_train, x_test, y_train, y_test = split(loader, Task.CLASSIFICATION)
    learner = fitted(name, Task.CLASSIFICATION, x_train, y_train, **params)
    predicted = learner.predict(x_test)
    assert predicted.dtype == np.int64
    assert (predicted == y_test).mean() >= bar
    proba = learner.predict_proba(x_test)
    assert proba is not None and proba.shape == (len(x_test), len(np.unique(y_train)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


# Diabetes (442 rows, 10 features) is noisy: ordinary least squares reaches R2 0.36 on this
# split (0.44-0.51 on others, as in the literature), trees less. The bars sit just under the
# fixed split's values and well above 0, the score of predicting the mean, which is where a fit
# on shuffled or mis-scaled targets lands.
REGRESSION_BARS = [
    ("sklearn.linear_regression", {}, 0.33),  # [0.359]
    ("sklearn.ridge", {}, 0.33),  # [0.358]
    ("sklearn.lasso", {"alpha": 0.1}, 0.33),  # [0.36]
    ("sklearn.random_forest", {"min_samples_leaf": 5, "max_features": "sqrt"}, 0.25),  # [0.31]
    ("sklearn.svm", {"kernel": "linear", "C": 10.0}, 0.3),  # [0.349]
    ("sklearn.svm", {"C": 1000.0, "gamma": 0.01}, 0.25),  # [0.307]
    ("sklearn.knn", {"n_neighbors": 15}, 0.3),  # [0.348]
]


@pytest.mark.parametrize(("name", "params", "bar"), REGRESSION_BARS)
def test_regressors_clear_their_bar_on_diabetes(
    name: str, params: dict[str, Any], bar: float
) -> None:
    x_train, x_test, y_train, y_test = split(load_diabetes, Task.REGRESSION)
    learner = fitted(name, Task.REGRESSION, x_train, y_train, **params)
    predicted = learner.predict(x_test)
    assert predicted.dtype == np.float64 and predicted.shape == (len(x_test),)
    assert r2_score(y_test, predicted) >= bar
    assert learner.predict_proba(x_test) is None


def test_kmeans_finds_the_iris_species() -> None:
    x, species = iris_scaled()
    labels = fitted("sklearn.kmeans", Task.CLUSTERING, x, None, n_clusters=3).predict(x)
    assert set(labels.tolist()) == {0, 1, 2}
    # Standardised iris: versicolor and virginica overlap, so ARI ~0.62 and silhouette ~0.46.
    assert adjusted_rand_score(species, labels) >= 0.55
    assert silhouette_score(x, labels) >= 0.4


def test_dbscan_clusters_iris_and_labels_new_rows_by_the_nearest_core_sample() -> None:
    x, species = iris_scaled()
    train, held_out = np.arange(len(x)) % 5 != 0, np.arange(len(x)) % 5 == 0
    learner = fitted("sklearn.dbscan", Task.CLUSTERING, x[train], None, eps=0.8)
    model = learner.estimator  # type: ignore[attr-defined]
    # The training rows' own labels: DBSCAN's, for every core sample.
    own = learner.predict(x[train])
    assert np.array_equal(
        own[model.core_sample_indices_], model.labels_[model.core_sample_indices_]
    )
    assert adjusted_rand_score(species[train], own) >= 0.5  # setosa apart, the rest together
    # New rows join the cluster of the nearest core sample within eps.
    assigned = learner.predict(x[held_out])
    cores = x[train][model.core_sample_indices_]
    distances = np.linalg.norm(x[held_out][:, None, :] - cores[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    expected = np.where(
        distances.min(axis=1) <= 0.8, model.labels_[model.core_sample_indices_][nearest], -1
    )
    assert np.array_equal(assigned, expected)
    # Setosa is the one species apart from the others: its new rows share a cluster of their own.
    assert (assigned != -1).mean() >= 0.8
    setosa = set(assigned[(species[held_out] == 0) & (assigned != -1)].tolist())
    others = set(assigned[species[held_out] != 0].tolist())
    assert len(setosa) == 1 and not setosa & others
    # A row far from every core sample is noise.
    assert learner.predict(x[:1] + 50.0).tolist() == [-1]


def test_pca_keeps_the_variance_of_iris() -> None:
    x, _ = iris_scaled()
    learner = fitted("sklearn.pca", Task.DIMENSIONALITY_REDUCTION, x, None)
    projected = learner.predict(x)
    # The default keeps 95% of the variance: two components on standardised iris (95.8%).
    assert projected.shape == (150, 2)
    explained = projected.var(axis=0).sum() / x.astype(np.float64).var(axis=0).sum()
    assert explained >= 0.95
    one = fitted("sklearn.pca", Task.DIMENSIONALITY_REDUCTION, x, None, n_components=1)
    assert one.predict(x).shape == (150, 1)


def test_the_pruning_alpha_is_chosen_by_cross_validation(tmp_path: Path) -> None:
    x_train, x_test, y_train, y_test = split(load_diabetes, Task.REGRESSION)
    pruned = fitted("sklearn.decision_tree", Task.REGRESSION, x_train, y_train)
    full = fitted("sklearn.decision_tree", Task.REGRESSION, x_train, y_train, ccp_alpha=0.0)
    # The unpruned tree memorises the noise (one leaf per row or so): negative R2 held out.
    assert r2_score(y_test, full.predict(x_test)) < 0
    assert pruned.ccp_alpha > 0  # type: ignore[attr-defined]
    assert r2_score(y_test, pruned.predict(x_test)) > r2_score(y_test, full.predict(x_test)) + 0.2
    assert pruned.estimator.get_n_leaves() < full.estimator.get_n_leaves() / 10  # type: ignore[attr-defined]
    (tmp_path / "pruned").mkdir()
    (tmp_path / "full").mkdir()
    saved = pruned.save(tmp_path / "pruned")
    assert saved.config["ccp_alpha"] == pruned.ccp_alpha > 0  # type: ignore[attr-defined]
    assert saved.config["ccp_alpha_chosen_by_cv"] is True
    assert "ccp_alpha_chosen_by_cv" not in full.save(tmp_path / "full").config


def _data_for(task: Task) -> tuple[np.ndarray, np.ndarray | None]:
    if task is Task.CLASSIFICATION:
        x_train, _, y_train, _ = split(load_wine, task)
        return x_train, y_train
    if task is Task.REGRESSION:
        x_train, _, y_train, _ = split(load_diabetes, task)
        return x_train, y_train
    return iris_scaled()[0], None


SMALL = {"sklearn.random_forest": {"n_estimators": 20}, "sklearn.kmeans": {"n_clusters": 3}}
ALL = [(info.name, task) for info in ALGORITHMS for task in sorted(info.tasks)]


@pytest.mark.parametrize(("name", "task"), ALL, ids=[f"{n}-{t.value}" for n, t in ALL])
def test_save_and_load_give_identical_predictions(name: str, task: Task, tmp_path: Path) -> None:
    x, y = _data_for(task)
    info = get_algorithm(name)
    learner = info.build(task, SMALL.get(name, {}), FitOptions(seed=3))
    learner.fit(x, y)
    saved = learner.save(tmp_path)
    assert saved.format == FORMAT_SKOPS and (tmp_path / saved.files[0]).is_file()
    loaded = info.learner_class.load(tmp_path, saved)
    assert np.array_equal(loaded.predict(x), learner.predict(x))
    assert same(learner.predict_proba(x), loaded.predict_proba(x))
    importance = learner.feature_importance()
    assert same(importance, loaded.feature_importance())
    if importance is not None:
        assert importance.shape == (x.shape[1],) and (importance >= 0).all()


@pytest.mark.parametrize(
    ("name", "task", "params"),
    [
        ("sklearn.random_forest", Task.CLASSIFICATION, {"n_estimators": 20}),
        ("sklearn.decision_tree", Task.REGRESSION, {}),
        ("sklearn.kmeans", Task.CLUSTERING, {"n_clusters": 4, "n_init": 1, "init": "random"}),
        ("sklearn.svm", Task.CLASSIFICATION, {}),
    ],
)
def test_the_seed_makes_results_reproducible(name: str, task: Task, params: dict[str, Any]) -> None:
    x, y = _data_for(task)

    def outputs(seed: int) -> np.ndarray:
        learner = get_algorithm(name).build(task, params, FitOptions(seed=seed))
        learner.fit(x, y)
        proba = learner.predict_proba(x)
        return proba if proba is not None else learner.predict(x).astype(np.float64)

    assert np.array_equal(outputs(11), outputs(11))
    if name in ("sklearn.random_forest", "sklearn.kmeans"):  # seeded randomness shows
        assert not np.array_equal(outputs(11), outputs(12))


def test_feature_importance_where_the_model_has_it() -> None:
    x_train, _, y_train, _ = split(load_breast_cancer, Task.CLASSIFICATION)
    logistic = fitted("sklearn.logistic_regression", Task.CLASSIFICATION, x_train, y_train)
    coef = logistic.estimator.coef_  # type: ignore[attr-defined]
    importance = logistic.feature_importance()
    assert importance is not None and np.allclose(importance, np.abs(coef).ravel())
    forest = fitted("sklearn.random_forest", Task.CLASSIFICATION, x_train, y_train, n_estimators=30)
    importance = forest.feature_importance()
    assert importance is not None and math.isclose(importance.sum(), 1.0, rel_tol=1e-6)
    # "worst concave points", "worst perimeter", "worst radius", "mean concave points" and the
    # like carry the signal; the forest agrees with the logistic regression on a top feature.
    top_forest = set(np.argsort(importance)[-5:])
    top_logistic = set(np.argsort(np.abs(coef).ravel())[-8:])
    assert top_forest & top_logistic
    assert fitted("sklearn.knn", Task.CLASSIFICATION, x_train, y_train).feature_importance() is None


def test_threads_and_seed_reach_the_estimator() -> None:
    info = get_algorithm("sklearn.random_forest")
    learner = info.build(Task.REGRESSION, {}, FitOptions(seed=2**40 + 5, threads=2))
    estimator = learner.estimator  # type: ignore[attr-defined]
    assert estimator.n_jobs == 2 and estimator.random_state == 5
    assert estimator.max_features == 1.0  # "auto" is all features for regression


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("sklearn.logistic_regression", {"penalty": "l1"}, "'penalty'"),
        ("sklearn.logistic_regression", {"C": 0.0}, "'C'"),
        ("sklearn.logistic_regression", {"C": "large"}, "'C'"),
        ("sklearn.random_forest", {"n_estimators": 2.5}, "'n_estimators'"),
        ("sklearn.random_forest", {"max_features": "half"}, "'max_features'"),
        ("sklearn.svm", {"kernel": "cubic"}, "'kernel'"),
        ("sklearn.decision_tree", {"ccp_alpha": -0.1}, "'ccp_alpha'"),
        ("sklearn.knn", {"n_neighbors": 0}, "'n_neighbors'"),
        ("sklearn.pca", {"variance_kept": 0.0}, "'variance_kept'"),
        ("sklearn.kmeans", {"n_clusters": None}, "'n_clusters'"),
        ("sklearn.dbscan", {"eps": True}, "'eps'"),
    ],
)
def test_bad_hyperparameters_name_the_parameter(
    name: str, params: dict[str, Any], fragment: str
) -> None:
    info = get_algorithm(name)
    task = sorted(info.tasks)[0]
    with pytest.raises(InvalidArgument, match=fragment):
        info.build(task, params)


def test_misfits_are_invalid_arguments() -> None:
    x, y = iris_scaled()
    knn = get_algorithm("sklearn.knn").build(Task.CLASSIFICATION, {"n_neighbors": 200})
    with pytest.raises(InvalidArgument, match="'n_neighbors' is 200"):
        knn.fit(x, y)
    weighted = get_algorithm("sklearn.knn").build(Task.CLASSIFICATION, {})
    with pytest.raises(InvalidArgument, match="sample weights"):
        weighted.fit(x, y, sample_weight=np.ones(len(x)))
    pca = get_algorithm("sklearn.pca").build(Task.DIMENSIONALITY_REDUCTION, {"n_components": 9})
    with pytest.raises(InvalidArgument, match="'n_components' is 9"):
        pca.fit(x, None)
    with pytest.raises(InvalidArgument, match="regression"):
        get_algorithm("sklearn.logistic_regression").build(Task.REGRESSION, {})


def test_sample_weights_change_the_fit() -> None:
    x_train, x_test, y_train, _ = split(load_breast_cancer, Task.CLASSIFICATION)
    plain = fitted("sklearn.logistic_regression", Task.CLASSIFICATION, x_train, y_train)
    weighted = get_algorithm("sklearn.logistic_regression").build(Task.CLASSIFICATION, {})
    weighted.fit(x_train, y_train, sample_weight=np.where(y_train == 0, 10.0, 1.0))
    # Weighing class 0 up moves probability towards it.
    plain_p, weighted_p = plain.predict_proba(x_test), weighted.predict_proba(x_test)
    assert plain_p is not None and weighted_p is not None
    assert weighted_p[:, 0].mean() > plain_p[:, 0].mean()


@pytest.mark.parametrize("smuggled", ["math.sqrt", "builtins.eval"])
def test_an_untrusted_skops_file_is_refused(tmp_path: Path, smuggled: str) -> None:
    import math as math_module

    function = eval if smuggled == "builtins.eval" else math_module.sqrt
    dump(FunctionTransformer(func=function), tmp_path / "model.skops")
    saved = SavedLearner(
        FORMAT_SKOPS,
        ("model.skops",),
        {"algorithm": "sklearn.logistic_regression", "task": "classification"},
    )
    with pytest.raises(FailedPrecondition, match=smuggled.replace(".", r"\.")):
        SklearnLearner.load(tmp_path, saved)
    assert not is_trusted(smuggled) and is_trusted("sklearn.tree._tree.Tree")


def test_a_corrupt_skops_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.skops").write_bytes(b"not a zip archive")
    saved = SavedLearner(FORMAT_SKOPS, ("model.skops",), {"algorithm": "x.y", "task": "regression"})
    with pytest.raises(FailedPrecondition, match="not a readable skops file"):
        SklearnLearner.load(tmp_path, saved)
