"""xgboost gradient-boosted trees (hist): classification and regression, early stopping on the
validation rows, per-round progress, saved as UBJ (loaded with ``Booster.load_model``, no pickle),
and training on a Dask cluster through ``xgboost.dask`` when a scheduler address is given."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import (
    FORMAT_XGBOOST_JSON,
    FORMAT_XGBOOST_UBJ,
    AlgorithmInfo,
    FitOptions,
    Learner,
    Progress,
    SavedLearner,
    Task,
)
from services.trainer.library.params import Param, ParamPython, ParamType, SuggestedSearch

GBDT = "xgboost.gbdt"
MODEL_FILES = {FORMAT_XGBOOST_UBJ: "model.ubj", FORMAT_XGBOOST_JSON: "model.json"}
# On Dask, rounds are trained in calls of this many so progress (and a cancel) is seen between
# them; each call costs a collective set-up (~0.1 s on a local cluster).
DASK_ROUNDS_PER_CALL = 25

_I, _F = ParamType.INT, ParamType.FLOAT


def _fraction(name: str, description: str) -> Param:
    return Param(
        name,
        _F,
        1.0,
        description,
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        search=SuggestedSearch(low=0.5, high=1.0),
    )


GBDT_PARAMS = (
    Param(
        "n_estimators",
        _I,
        200,
        "Most boosting rounds (trees per class); early stopping may use fewer.",
        minimum=1,
        maximum=1_000_000,
        search=SuggestedSearch(low=50, high=1000, log=True),
    ),
    Param(
        "max_depth",
        _I,
        6,
        "Deepest level of each tree (0: no limit).",
        minimum=0,
        maximum=64,
        search=SuggestedSearch(low=2, high=10),
    ),
    Param(
        "learning_rate",
        _F,
        0.1,
        "Shrinkage of each tree's contribution (eta).",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        search=SuggestedSearch(low=0.01, high=0.3, log=True),
    ),
    _fraction("subsample", "Fraction of the rows sampled for each tree (seeded)."),
    _fraction("colsample_bytree", "Fraction of the features sampled for each tree (seeded)."),
    Param(
        "min_child_weight",
        _F,
        1.0,
        "Least hessian weight (about: rows, for squared error) a child needs.",
        minimum=0.0,
        maximum=1e9,
        search=SuggestedSearch(low=0.5, high=20.0, log=True),
    ),
    Param(
        "reg_lambda",
        _F,
        1.0,
        "L2 penalty on leaf weights.",
        minimum=0.0,
        maximum=1e9,
        search=SuggestedSearch(low=1e-3, high=10.0, log=True),
    ),
    Param(
        "reg_alpha",
        _F,
        0.0,
        "L1 penalty on leaf weights.",
        minimum=0.0,
        maximum=1e9,
        search=SuggestedSearch(low=1e-3, high=10.0, log=True),
    ),
    Param(
        "gamma",
        _F,
        0.0,
        "Least loss reduction a split must bring (min_split_loss).",
        minimum=0.0,
        maximum=1e9,
        search=SuggestedSearch(low=0.0, high=5.0),
    ),
    Param(
        "max_bin",
        _I,
        256,
        "Histogram bins per feature (hist tree method).",
        minimum=2,
        maximum=65_536,
    ),
    Param(
        "early_stopping_rounds",
        _I,
        20,
        "Stop when the validation loss has not improved for this many rounds (only with "
        "validation rows); the best round's model is kept. None: train every round.",
        minimum=1,
        maximum=1_000_000,
        nullable=True,
    ),
)


class GbdtLearner(Learner):
    labels_from_probabilities = True

    def __init__(
        self,
        task: Task,
        params: Mapping[str, ParamPython],
        options: FitOptions,
        booster: xgb.Booster | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.params = dict(params)
        self.options = options
        self.booster = booster
        self.config: dict[str, Any] = dict(config or {})

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> None:
        if y is None:
            raise InvalidArgument(f"{self.task.value} needs a target column")
        num_class = int(y.max()) + 1 if self.task is Task.CLASSIFICATION else 0
        self.config = {"task": self.task.value, "num_class": num_class}
        booster_params = self.booster_params(num_class)
        if self.options.dask_scheduler_address:
            booster = self._fit_dask(booster_params, x, y, sample_weight, validation, progress)
        else:
            booster = self._fit_local(booster_params, x, y, sample_weight, validation, progress)
        self.booster = booster
        self.config["fitted_rounds"] = booster.num_boosted_rounds()

    def booster_params(self, num_class: int) -> dict[str, Any]:
        p = self.params
        params: dict[str, Any] = {
            "tree_method": "hist",
            "max_depth": p["max_depth"],
            "eta": p["learning_rate"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample_bytree"],
            "min_child_weight": p["min_child_weight"],
            "lambda": p["reg_lambda"],
            "alpha": p["reg_alpha"],
            "gamma": p["gamma"],
            "max_bin": p["max_bin"],
            "seed": self.options.seed % 2**31,
            "nthread": max(self.options.threads, 1),
            "eval_metric": self.metric(num_class),
        }
        if self.task is Task.REGRESSION:
            params["objective"] = "reg:squarederror"
        elif num_class <= 2:
            params["objective"] = "binary:logistic"
        else:
            params.update(objective="multi:softprob", num_class=num_class)
        return params

    def metric(self, num_class: int) -> str:
        if self.task is Task.REGRESSION:
            return "rmse"
        return "logloss" if num_class <= 2 else "mlogloss"

    def _fit_local(
        self,
        params: dict[str, Any],
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None,
        validation: tuple[np.ndarray, np.ndarray] | None,
        progress: Progress | None,
    ) -> xgb.Booster:
        rounds = int(self.params["n_estimators"])  # type: ignore[arg-type]
        train = xgb.QuantileDMatrix(x, y, weight=weight, max_bin=params["max_bin"])
        # The training loss costs a pass over the rows per round: only for a listener.
        evals = [(train, "train")] if progress is not None else []
        if validation is not None:
            evals.append((xgb.QuantileDMatrix(*validation, ref=train), "validation"))
        callbacks: list[xgb.callback.TrainingCallback] = []
        if progress is not None:
            callbacks.append(RoundReporter(progress, rounds, params["eval_metric"]))
        patience: int | None = self.params["early_stopping_rounds"]  # type: ignore[assignment]
        if validation is not None and patience is not None:
            callbacks.append(
                xgb.callback.EarlyStopping(
                    rounds=patience,
                    metric_name=params["eval_metric"],
                    data_name="validation",
                    save_best=True,
                )
            )
        return xgb.train(
            params, train, num_boost_round=rounds, evals=evals, callbacks=callbacks,
            verbose_eval=False,
        )  # fmt: skip

    def _fit_dask(
        self,
        params: dict[str, Any],
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None,
        validation: tuple[np.ndarray, np.ndarray] | None,
        progress: Progress | None,
    ) -> xgb.Booster:
        from services.trainer.library.xgboost_dask import train_on_dask

        return train_on_dask(
            self.options.dask_scheduler_address,
            _on_workers(params),
            x,
            y,
            weight,
            validation,
            rounds=int(self.params["n_estimators"]),  # type: ignore[arg-type]
            patience=self.params["early_stopping_rounds"],  # type: ignore[arg-type]
            progress=progress,
        )

    def fit_on_dask(
        self,
        client: Any,
        x: Any,
        y: Any,
        *,
        num_class: int,
        sample_weight: Any = None,
        validation: tuple[Any, Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        """``fit`` on rows already on ``client``'s cluster (dask arrays: float32 features, class
        indices or values, weights), never brought to this process; ``num_class``: the
        classes learnt from the whole training split (0 for regression)."""
        from services.trainer.library.xgboost_dask import train_on_client

        self.config = {"task": self.task.value, "num_class": num_class}
        booster = train_on_client(
            client,
            _on_workers(self.booster_params(num_class)),
            x,
            y,
            sample_weight,
            validation,
            rounds=int(self.params["n_estimators"]),  # type: ignore[arg-type]
            patience=self.params["early_stopping_rounds"],  # type: ignore[arg-type]
            progress=progress,
        )
        self.booster = booster
        self.config["fitted_rounds"] = booster.num_boosted_rounds()

    # -- use -----------------------------------------------------------------------------------

    def _fitted(self) -> xgb.Booster:
        if self.booster is None:
            raise FailedPrecondition("the xgboost model is not fitted")
        return self.booster

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.task is Task.REGRESSION:
            return np.asarray(self._fitted().inplace_predict(x), dtype=np.float64).ravel()
        proba = self.predict_proba(x)
        assert proba is not None
        return proba.argmax(axis=1).astype(np.int64)

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        if self.task is not Task.CLASSIFICATION:
            return None
        raw = np.asarray(self._fitted().inplace_predict(x), dtype=np.float64)
        if raw.ndim == 1:  # binary: the probability of class 1
            return np.column_stack([1.0 - raw, raw])
        return raw

    def feature_importance(self) -> np.ndarray | None:
        booster = self._fitted()
        gains = booster.get_score(importance_type="gain")
        importance = np.zeros(booster.num_features(), dtype=np.float64)
        for name, value in gains.items():
            # Features without names are called f0, f1, ...; unused features are absent.
            importance[int(name.removeprefix("f"))] = float(value)  # type: ignore[arg-type]
        return importance

    def fitted_steps(self) -> int | None:
        return None if self.booster is None else self.booster.num_boosted_rounds()

    # -- storage -------------------------------------------------------------------------------

    def save(self, directory: Path) -> SavedLearner:
        name = MODEL_FILES[FORMAT_XGBOOST_UBJ]
        self._fitted().save_model(str(directory / name))
        config = {**self.config, "params": self.params, "seed": self.options.seed}
        return SavedLearner(FORMAT_XGBOOST_UBJ, (name,), config)

    @classmethod
    def load(cls, directory: Path, saved: SavedLearner) -> GbdtLearner:
        expected = MODEL_FILES.get(saved.format)
        if expected is None or saved.files != (expected,):
            raise FailedPrecondition(
                f"an xgboost learner is one {', '.join(MODEL_FILES.values())} file, "
                f"not {saved.format} {list(saved.files)}"
            )
        booster = xgb.Booster()
        try:
            booster.load_model(str(directory / expected))
        except Exception as exc:  # XGBoostError, or a UnicodeDecodeError of its message
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FailedPrecondition(
                f"{expected} is not a readable xgboost model: {reason}"
            ) from None
        config = dict(saved.config)
        task = Task(config["task"])
        params = {p.name: p.default for p in GBDT_PARAMS} | dict(config.get("params", {}))
        options = FitOptions(seed=int(config.get("seed", 0)))
        return cls(task, params, options, booster, config)


class RoundReporter(xgb.callback.TrainingCallback):
    """Calls ``progress.step`` after every boosting round with the train and validation loss
    (log loss, or mean squared error for regression); a listener's exception stops training
    and propagates out of ``xgboost.train``."""

    def __init__(self, progress: Progress, total: int, metric: str) -> None:
        super().__init__()
        self.progress = progress
        self.total = total
        self.metric = metric

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.progress.step(epoch + 1, self.total, "round", round_metrics(evals_log, self.metric))
        return False


def round_metrics(
    evals_log: Mapping[str, Mapping[str, list[Any]]], metric: str
) -> dict[str, float]:
    """The latest round's losses from an xgboost evaluation log."""
    metrics: dict[str, float] = {}
    for data_name, key in (("train", "train_loss"), ("validation", "val_loss")):
        scores = evals_log.get(data_name, {}).get(metric)
        if scores:
            metrics[key] = loss_value(scores[-1], metric)
    return metrics


def loss_value(score: Any, metric: str) -> float:
    # xgboost logs (score, std) pairs in cv; a plain float otherwise.
    value = float(score[0] if isinstance(score, tuple) else score)
    return value * value if metric == "rmse" else value  # rmse -> mean squared error


def _on_workers(params: Mapping[str, Any]) -> dict[str, Any]:
    """Booster parameters for a Dask cluster: each worker uses its own threads."""
    return {k: v for k, v in params.items() if k != "nthread"}


def _gbdt(task: Task, params: Mapping[str, ParamPython], options: FitOptions) -> Learner:
    return GbdtLearner(task, params, options)


ALGORITHMS: tuple[AlgorithmInfo, ...] = (
    AlgorithmInfo(
        name=GBDT,
        display_name="Gradient-boosted trees (xgboost)",
        description="xgboost with the hist tree method; early stopping on the validation rows; "
        "trains on a Dask cluster when given a scheduler address.",
        tasks=frozenset({Task.CLASSIFICATION, Task.REGRESSION}),
        library="xgboost",
        params=GBDT_PARAMS,
        factory=_gbdt,
        learner_class=GbdtLearner,
        formats=(FORMAT_XGBOOST_UBJ,),
        iterative=True,
        supports_sample_weight=True,
        supports_dask=True,
        scale_by_default=False,
        one_hot_by_default=False,
        handles_missing=True,
    ),
)
