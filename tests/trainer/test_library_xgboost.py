"""xgboost.gbdt on scikit-learn's bundled data: held-out quality, early stopping on the
validation rows, per-round progress (and a listener stopping it), UBJ save/load, seeds, missing
values, sample weights, and training on a Dask LocalCluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import train_test_split

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import (
    FORMAT_XGBOOST_UBJ,
    FitOptions,
    Learner,
    Progress,
    SavedLearner,
    Task,
    TrainingStopped,
)
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.xgboost_algorithms import GbdtLearner

GBDT = "xgboost.gbdt"


class Data:
    """A fixed split: 25% held out for testing, 20% of the rest as validation rows."""

    def __init__(self, loader: Callable[..., Any], task: Task) -> None:
        x, y = loader(return_X_y=True)
        x = x.astype(np.float32)
        y = y.astype(np.int64 if task is Task.CLASSIFICATION else np.float64)
        stratify = y if task is Task.CLASSIFICATION else None
        x_rest, self.x_test, y_rest, self.y_test = train_test_split(
            x, y, test_size=0.25, random_state=0, stratify=stratify
        )
        stratify = y_rest if task is Task.CLASSIFICATION else None
        self.x, self.x_val, self.y, self.y_val = train_test_split(
            x_rest, y_rest, test_size=0.2, random_state=0, stratify=stratify
        )
        self.task = task

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_val, self.y_val


CANCER = Data(load_breast_cancer, Task.CLASSIFICATION)
DIABETES = Data(load_diabetes, Task.REGRESSION)
WINE = Data(load_wine, Task.CLASSIFICATION)

Step = tuple[int, int, str, dict[str, float]]


def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Both None, or equal arrays."""
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b))


def recorder() -> tuple[Progress, list[Step]]:
    steps: list[Step] = []

    def listen(step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        steps.append((step, total, unit, dict(metrics)))

    return Progress([listen]), steps


def gbdt(data: Data, options: FitOptions | None = None, **params: Any) -> Learner:
    return get_algorithm(GBDT).build(data.task, params, options or FitOptions(seed=1))


def test_breast_cancer_accuracy_with_early_stopping() -> None:
    learner = gbdt(CANCER)
    progress, steps = recorder()
    learner.fit(CANCER.x, CANCER.y, validation=CANCER.validation, progress=progress)
    assert (learner.predict(CANCER.x_test) == CANCER.y_test).mean() >= 0.93  # [0.958]
    proba = learner.predict_proba(CANCER.x_test)
    assert proba is not None and proba.shape == (len(CANCER.x_test), 2)
    assert np.array_equal(learner.predict(CANCER.x_test), proba.argmax(axis=1))
    # Stopped early: 20 rounds without a better validation loss after the best one.
    fitted = learner.fitted_steps()
    assert fitted is not None and fitted < 200
    assert len(steps) == fitted + 20
    assert [s[0] for s in steps] == list(range(1, len(steps) + 1))
    assert {(s[1], s[2]) for s in steps} == {(200, "round")}
    # The reported losses are the model's: the best round's val_loss is the held-out log loss.
    val_losses = [s[3]["val_loss"] for s in steps]
    assert int(np.argmin(val_losses)) + 1 == fitted
    val_proba = learner.predict_proba(CANCER.x_val)
    assert val_proba is not None
    assert val_losses[fitted - 1] == pytest.approx(log_loss(CANCER.y_val, val_proba), rel=1e-4)
    assert steps[-1][3]["train_loss"] < steps[0][3]["train_loss"]


def test_wine_gives_probabilities_for_every_class() -> None:
    learner = gbdt(WINE, n_estimators=60)
    learner.fit(WINE.x, WINE.y, validation=WINE.validation)
    proba = learner.predict_proba(WINE.x_test)
    assert proba is not None and proba.shape == (len(WINE.x_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (learner.predict(WINE.x_test) == WINE.y_test).mean() >= 0.93  # [0.956]


def test_diabetes_regression_and_its_mean_squared_error_progress() -> None:
    # Diabetes is noisy and small (OLS reaches R2 0.36 on this split); shallow, slow boosting
    # with early stopping gets 0.31. 0.25 is far above 0, the mean's score.
    learner = gbdt(DIABETES, max_depth=2, learning_rate=0.05, subsample=0.8)
    progress, steps = recorder()
    learner.fit(DIABETES.x, DIABETES.y, validation=DIABETES.validation, progress=progress)
    predicted = learner.predict(DIABETES.x_test)
    assert predicted.dtype == np.float64 and predicted.shape == (len(DIABETES.x_test),)
    assert r2_score(DIABETES.y_test, predicted) >= 0.25
    assert learner.predict_proba(DIABETES.x_test) is None
    fitted = learner.fitted_steps()
    assert fitted is not None
    best = steps[fitted - 1][3]["val_loss"]
    mse = float(np.mean((learner.predict(DIABETES.x_val) - DIABETES.y_val) ** 2))
    assert best == pytest.approx(mse, rel=1e-3)  # val_loss is the mean squared error


def test_without_validation_rows_every_round_is_trained() -> None:
    learner = gbdt(CANCER, n_estimators=15)
    progress, steps = recorder()
    learner.fit(CANCER.x, CANCER.y, progress=progress)
    assert learner.fitted_steps() == 15 and len(steps) == 15
    assert all(set(s[3]) == {"train_loss"} for s in steps)


def test_early_stopping_can_be_turned_off() -> None:
    learner = gbdt(CANCER, n_estimators=80, learning_rate=0.5, early_stopping_rounds=None)
    learner.fit(CANCER.x, CANCER.y, validation=CANCER.validation)
    assert learner.fitted_steps() == 80


def test_a_listener_that_raises_stops_training_at_once() -> None:
    seen: list[int] = []

    def cancel_at_seven(step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        seen.append(step)
        if step == 7:
            raise TrainingStopped("cancelled")

    learner = gbdt(CANCER, n_estimators=100_000, learning_rate=0.001, early_stopping_rounds=None)
    with pytest.raises(TrainingStopped):
        learner.fit(CANCER.x, CANCER.y, progress=Progress([cancel_at_seven]))
    assert seen == list(range(1, 8))


def test_save_as_ubj_and_load_without_pickle(tmp_path: Path) -> None:
    learner = gbdt(CANCER, n_estimators=40)
    learner.fit(CANCER.x, CANCER.y, validation=CANCER.validation)
    saved = learner.save(tmp_path)
    assert saved.format == FORMAT_XGBOOST_UBJ and saved.files == ("model.ubj",)
    assert saved.config["task"] == "classification" and saved.config["num_class"] == 2
    # An ordinary xgboost model file: xgboost alone reads it.
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "model.ubj"))
    assert booster.num_boosted_rounds() == learner.fitted_steps()
    loaded = GbdtLearner.load(tmp_path, saved)
    assert same(loaded.predict_proba(CANCER.x_test), learner.predict_proba(CANCER.x_test))
    assert np.array_equal(loaded.predict(CANCER.x_test), learner.predict(CANCER.x_test))
    assert loaded.fitted_steps() == learner.fitted_steps()
    assert same(loaded.feature_importance(), learner.feature_importance())


def test_regression_round_trip(tmp_path: Path) -> None:
    learner = gbdt(DIABETES, n_estimators=30)
    learner.fit(DIABETES.x, DIABETES.y)
    loaded = GbdtLearner.load(tmp_path, learner.save(tmp_path))
    assert np.array_equal(loaded.predict(DIABETES.x_test), learner.predict(DIABETES.x_test))


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.ubj").write_bytes(b"\x80\x04not a model")
    saved = SavedLearner(FORMAT_XGBOOST_UBJ, ("model.ubj",), {"task": "classification"})
    with pytest.raises(FailedPrecondition, match="not a readable xgboost model"):
        GbdtLearner.load(tmp_path, saved)
    with pytest.raises(FailedPrecondition, match="xgboost learner"):
        GbdtLearner.load(tmp_path, SavedLearner("skops", ("model.skops",), {}))


def test_feature_importance_is_the_gain_of_each_feature() -> None:
    learner = gbdt(CANCER, n_estimators=30)
    learner.fit(CANCER.x, CANCER.y)
    importance = learner.feature_importance()
    assert importance is not None and importance.shape == (30,)
    assert (importance >= 0).all() and (importance > 0).sum() >= 5
    booster: xgb.Booster = learner.booster  # type: ignore[attr-defined]
    gains = booster.get_score(importance_type="gain")
    top = max(gains, key=lambda k: gains[k])
    assert int(np.argmax(importance)) == int(top.removeprefix("f"))


def test_the_seed_makes_results_reproducible() -> None:
    def proba(seed: int) -> np.ndarray:
        learner = gbdt(
            CANCER, FitOptions(seed=seed), n_estimators=30, subsample=0.7,
            colsample_bytree=0.7,
        )  # fmt: skip
        learner.fit(CANCER.x, CANCER.y)
        result = learner.predict_proba(CANCER.x_test)
        assert result is not None
        return result

    assert np.array_equal(proba(4), proba(4))
    assert not np.array_equal(proba(4), proba(5))


def test_missing_values_reach_xgboost_as_nan() -> None:
    x = CANCER.x.copy()
    rng = np.random.default_rng(0)
    x[rng.random(x.shape) < 0.1] = np.nan  # 10% of the cells punched out
    x_test = CANCER.x_test.copy()
    x_test[rng.random(x_test.shape) < 0.1] = np.nan
    learner = gbdt(CANCER, n_estimators=60)
    learner.fit(x, CANCER.y)
    assert (learner.predict(x_test) == CANCER.y_test).mean() >= 0.9


def test_sample_weights_move_the_model() -> None:
    plain = gbdt(CANCER, n_estimators=30)
    plain.fit(CANCER.x, CANCER.y)
    weighted = gbdt(CANCER, n_estimators=30)
    weighted.fit(CANCER.x, CANCER.y, sample_weight=np.where(CANCER.y == 0, 10.0, 1.0))
    plain_p, weighted_p = plain.predict_proba(CANCER.x_test), weighted.predict_proba(CANCER.x_test)
    assert plain_p is not None and weighted_p is not None
    assert weighted_p[:, 0].mean() > plain_p[:, 0].mean()


def test_threads_and_seed_go_to_the_booster() -> None:
    learner = gbdt(CANCER, FitOptions(seed=9, threads=2))
    params = learner.booster_params(2)  # type: ignore[attr-defined]
    assert params["nthread"] == 2 and params["seed"] == 9 and params["tree_method"] == "hist"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"learning_rate": 0.0}, "'learning_rate'"),
        ({"learning_rate": "fast"}, "'learning_rate'"),
        ({"n_estimators": 0}, "'n_estimators'"),
        ({"n_estimators": 10.5}, "'n_estimators'"),
        ({"subsample": 1.5}, "'subsample'"),
        ({"tree_method": "exact"}, "'tree_method'"),
        ({"early_stopping_rounds": 0}, "'early_stopping_rounds'"),
    ],
)
def test_bad_hyperparameters_name_the_parameter(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        get_algorithm(GBDT).build(Task.CLASSIFICATION, params)
    with pytest.raises(InvalidArgument, match="clustering"):
        get_algorithm(GBDT).build(Task.CLUSTERING, {})


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_training_on_a_dask_cluster_is_as_good_as_in_process(dask_cluster: str) -> None:
    local = gbdt(CANCER, FitOptions(seed=2), learning_rate=0.3)
    local.fit(CANCER.x, CANCER.y, validation=CANCER.validation)
    remote = gbdt(
        CANCER, FitOptions(seed=2, dask_scheduler_address=dask_cluster), learning_rate=0.3
    )
    progress, steps = recorder()
    remote.fit(CANCER.x, CANCER.y, validation=CANCER.validation, progress=progress)
    local_accuracy = (local.predict(CANCER.x_test) == CANCER.y_test).mean()
    remote_accuracy = (remote.predict(CANCER.x_test) == CANCER.y_test).mean()
    assert remote_accuracy >= 0.93 and remote_accuracy >= local_accuracy - 0.02
    remote_proba = remote.predict_proba(CANCER.x_test)
    assert remote_proba is not None
    remote_loss = log_loss(CANCER.y_test, remote_proba)
    local_proba = local.predict_proba(CANCER.x_test)
    assert local_proba is not None
    assert remote_loss <= log_loss(CANCER.y_test, local_proba) * 1.25
    # Progress of every round reached the listener; early stopping kept the best round.
    fitted = remote.fitted_steps()
    assert fitted is not None and fitted < 200
    assert [s[0] for s in steps] == list(range(1, fitted + 21))
    assert int(np.argmin([s[3]["val_loss"] for s in steps])) + 1 == fitted


def test_a_listener_stops_dask_training(dask_cluster: str) -> None:
    seen: list[int] = []

    def stop_at_three(step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        seen.append(step)
        if step == 3:
            raise TrainingStopped("cancelled")

    remote = gbdt(CANCER, FitOptions(dask_scheduler_address=dask_cluster), n_estimators=500)
    with pytest.raises(TrainingStopped):
        remote.fit(CANCER.x, CANCER.y, progress=Progress([stop_at_three]))
    assert seen == [1, 2, 3]


def test_fit_on_dask_takes_rows_already_on_the_cluster(dask_cluster: str) -> None:
    import dask.array as da

    from services.trainer.library.xgboost_dask import connect

    remote = gbdt(CANCER, FitOptions(seed=2), learning_rate=0.3)
    assert isinstance(remote, GbdtLearner)
    progress, steps = recorder()
    with connect(dask_cluster) as client:
        # Dask arrays, used as they are (numpy rows would be scattered first).
        x = da.from_array(CANCER.x, chunks=(100, -1))
        y = da.from_array(CANCER.y, chunks=100)
        held_out = (da.from_array(CANCER.x_val, chunks=50), da.from_array(CANCER.y_val, chunks=50))
        remote.fit_on_dask(client, x, y, num_class=2, validation=held_out, progress=progress)
    assert remote.config["num_class"] == 2
    assert (remote.predict(CANCER.x_test) == CANCER.y_test).mean() >= 0.93
    fitted = remote.fitted_steps()
    assert fitted is not None and [s[0] for s in steps][:fitted] == list(range(1, fitted + 1))
