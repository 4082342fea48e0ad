"""Hyperparameter tuning with Optuna: samplers and pruners from the tune job, the study in the
trainer's study database (shared by every trainer replica running the job), the objective (a fit
scored by cross-validation or on the validation rows, pruned on intermediate values) and the
trial loop that stops when the study as a whole has spent its budget.

Several workers share one budget: a worker takes a study-wide lock (a PostgreSQL advisory lock,
or a file lock beside a SQLite database), counts the study's trials (running ones included) and
starts its trial only while the count is under ``max_trials``, so the workers together run exactly
``max_trials`` trials. Heartbeats mark a dead worker's trial FAIL, so it does not hold a slot.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import optuna
import pandas as pd
import sqlalchemy
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library.base import Progress, TrainingStopped
from services.trainer.library.evaluation import cross_validate, evaluate
from services.trainer.library.model import ModelSpec, TrainingData, fit_model
from services.trainer.library.params import ParamPython
from services.trainer.library.search_space import Dimension, SearchSpace, resolve_search_space

__all__ = [
    "Dimension",
    "Objective",
    "SearchSpace",
    "TrialHooks",
    "TrialObjective",
    "TrialsSummary",
    "best_params",
    "close_storage",
    "fail_stale_trials",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "open_study",
    "optuna_storage",
    "resolve_search_space",
    "run_trials",
]

logger = logging.getLogger(__name__)

# User attributes of a trial: its decoded params, and why it failed.
PARAMS_ATTR = "aimass_params"
FAIL_REASON_ATTR = "fail_reason"
# User attribute of the study: when its first worker started (seconds since the epoch).
STARTED_ATTR = "aimass_started_at"
# Trials states counted against the budget (RUNNING: claimed by a worker).
_CLAIMED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
    optuna.trial.TrialState.RUNNING,
)
HEARTBEAT_SECONDS = 10
HEARTBEAT_GRACE_SECONDS = 60
TPE_STARTUP_TRIALS = 10
MEDIAN_STARTUP_TRIALS = 5


# ---------------------------------------------------------------------------------------------
# Samplers and pruners


def make_sampler(
    sampler: tpb.Sampler, space: SearchSpace, seed: int
) -> optuna.samplers.BaseSampler:
    """TPE by default; random; grid (every dimension categorical or stepped); CMA-ES (needs the
    ``cmaes`` package; categorical dimensions are sampled at random beside it)."""
    if sampler.startup_trials < 0:
        raise InvalidArgument("sampler.startup_trials must be >= 0")
    seed %= 2**32
    kind = sampler.kind
    if kind in (tpb.SAMPLER_KIND_UNSPECIFIED, tpb.SAMPLER_KIND_TPE):
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=sampler.startup_trials or TPE_STARTUP_TRIALS
        )
    if kind == tpb.SAMPLER_KIND_RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == tpb.SAMPLER_KIND_GRID:
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if kind == tpb.SAMPLER_KIND_CMA_ES:
        if not any(d.numeric for d in space.dimensions):
            raise InvalidArgument(
                "CMA-ES searches numeric ranges and the search space has none: use TPE, random "
                "or grid"
            )
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            n_startup_trials=sampler.startup_trials or 1,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    raise InvalidArgument(f"sampler kind {kind} is not known: use TPE, RANDOM, GRID or CMA_ES")


def make_pruner(pruner: tpb.Pruner, iterative: bool) -> optuna.pruners.BasePruner:
    """Median pruning by default for iterative learners (none otherwise); successive halving and
    Hyperband with ``warmup_steps`` as their minimum resource."""
    if pruner.startup_trials < 0 or pruner.warmup_steps < 0:
        raise InvalidArgument("pruner.startup_trials and pruner.warmup_steps must be >= 0")
    kind = pruner.kind
    if kind == tpb.PRUNER_KIND_UNSPECIFIED:
        kind = tpb.PRUNER_KIND_MEDIAN if iterative else tpb.PRUNER_KIND_NONE
    if kind == tpb.PRUNER_KIND_NONE:
        return optuna.pruners.NopPruner()
    if kind == tpb.PRUNER_KIND_MEDIAN:
        return optuna.pruners.MedianPruner(
            n_startup_trials=pruner.startup_trials or MEDIAN_STARTUP_TRIALS,
            n_warmup_steps=pruner.warmup_steps,
        )
    if kind == tpb.PRUNER_KIND_SUCCESSIVE_HALVING:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=pruner.warmup_steps or "auto")
    if kind == tpb.PRUNER_KIND_HYPERBAND:
        return optuna.pruners.HyperbandPruner(min_resource=pruner.warmup_steps or 1)
    raise InvalidArgument(
        f"pruner kind {kind} is not known: use NONE, MEDIAN, SUCCESSIVE_HALVING or HYPERBAND"
    )


# ---------------------------------------------------------------------------------------------
# Storage and study

_DRIVERS = {
    "sqlite+aiosqlite": "sqlite",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql+aiomysql": "mysql+pymysql",
    "mysql+asyncmy": "mysql+pymysql",
}
# Budget locks of the studies open_study made.
_LOCKS: weakref.WeakKeyDictionary[optuna.Study, Callable[[], AbstractContextManager[None]]] = (
    weakref.WeakKeyDictionary()
)
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def sync_url(db_url: str) -> str:
    """Our async SQLAlchemy URL as the synchronous one Optuna uses."""
    url = make_url(db_url)
    driver = _DRIVERS.get(url.drivername, url.drivername)
    return url.set(drivername=driver).render_as_string(hide_password=False)


def optuna_storage(
    db_url: str,
    *,
    heartbeat_interval: int = HEARTBEAT_SECONDS,
    grace_period: int = HEARTBEAT_GRACE_SECONDS,
) -> optuna.storages.RDBStorage:
    """An Optuna RDBStorage on the study database (``sqlite+aiosqlite:///x`` or
    ``postgresql+asyncpg://...``), with a small connection pool (one worker's trial loop, its
    heartbeat and its budget lock) and trial heartbeats. Close it with ``close_storage``."""
    url = make_url(sync_url(db_url))
    kwargs: dict[str, Any]
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise InvalidArgument("the study database must be a file or a server, not in memory")
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 30}}
    else:
        kwargs = {"pool_size": 3, "max_overflow": 2, "pool_pre_ping": True, "pool_recycle": 1800}
    try:
        # Workers starting together would race to create Optuna's tables.
        with _schema_lock(url), warnings.catch_warnings():
            # Heartbeats are "experimental" in Optuna; they are what frees a dead worker's slot.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url.render_as_string(hide_password=False),
                engine_kwargs=kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
            )
    except SQLAlchemyError as exc:
        raise FailedPrecondition(f"the study database is not usable: {exc}") from exc


@contextmanager
def _schema_lock(url: URL) -> Iterator[None]:
    if url.get_backend_name() == "sqlite" and url.database:
        with _file_lock(Path(f"{url.database}.lock")):
            yield
        return
    if url.get_backend_name() != "postgresql":
        yield
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.NullPool)
    try:
        with _advisory_lock(engine, _lock_key("aimass-optuna-schema")):
            yield
    finally:
        engine.dispose()


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def close_storage(storage: optuna.storages.RDBStorage) -> None:
    """Return the storage's connections."""
    storage.remove_session()
    storage.engine.dispose()


def open_study(
    storage: optuna.storages.BaseStorage,
    study_name: str,
    direction: Literal["minimize", "maximize"] | str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """The study ``study_name``, created by the first worker and joined by the others."""
    if direction not in ("minimize", "maximize"):
        raise InvalidArgument(f"direction is {direction!r}: minimize or maximize")
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise FailedPrecondition(
            f"study {study_name!r} exists and {study.direction.name.lower()}s its objective, "
            f"not {direction}"
        )
    _LOCKS[study] = _budget_lock(storage, study_name)
    return study


def _budget_lock(
    storage: optuna.storages.BaseStorage, study_name: str
) -> Callable[[], AbstractContextManager[None]]:
    if isinstance(storage, optuna.storages.RDBStorage):
        url = make_url(storage.url)
        if url.get_backend_name() == "postgresql":
            key = _lock_key(f"aimass-study:{study_name}")
            engine = storage.engine
            return lambda: _advisory_lock(engine, key)
        if url.get_backend_name() == "sqlite" and url.database:
            path = Path(f"{url.database}.lock")
            return lambda: _file_lock(path)
    return _process_lock(study_name)


def _process_lock(study_name: str) -> Callable[[], AbstractContextManager[None]]:
    """Workers of one process only (in-memory storages and databases without a lock we know)."""
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(study_name, threading.Lock())

    @contextmanager
    def held() -> Iterator[None]:
        with lock:
            yield

    return held


@contextmanager
def _advisory_lock(engine: Engine, key: int) -> Iterator[None]:
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # flock locks belong to the open file, so threads of one process exclude each other too.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# The objective


@dataclass
class Objective:
    """Suggests a trial's params, fits, and returns the objective: the CV mean of ``metric``
    when ``cv`` is set, else ``metric`` on the validation rows. Intermediate values for pruning:
    the running CV mean after each fold, or the learner's ``val_loss`` per round/epoch."""

    space: SearchSpace
    spec_for_params: Callable[[dict[str, ParamPython]], ModelSpec]
    train: TrainingData
    validation: TrainingData | None
    metric: str
    cv: tpb.CrossValidation | None = None
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None
    should_stop: Callable[[], bool] | None = None

    def suggest(self, trial: optuna.Trial) -> dict[str, ParamPython]:
        return self.space.suggest(trial)

    def evaluate(self, trial: optuna.Trial, params: Mapping[str, ParamPython]) -> float:
        spec = self.spec_for_params(dict(params))
        if self.cv is not None:
            return self._cross_validated(trial, spec)
        return self._held_out(trial, spec)

    def __call__(self, trial: optuna.Trial) -> float:
        return self.evaluate(trial, self.suggest(trial))

    def _stop(self, step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        if self.should_stop is not None and self.should_stop():
            raise TrainingStopped("the tune job was stopped")

    def _cross_validated(self, trial: optuna.Trial, spec: ModelSpec) -> float:
        assert self.cv is not None
        seen: list[float] = []

        def on_fold(index: int, total: int, values: Mapping[str, float]) -> None:
            if self.metric in values:
                seen.append(values[self.metric])
                trial.report(float(np.mean(seen)), index)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {index + 1} of {total}")
            self._stop(index, total, "fold", values)

        result = cross_validate(
            spec,
            self.train,
            self.cv,
            (self.metric,),
            groups=self.groups,
            on_fold=on_fold,
            progress=Progress([self._stop]),
        )
        if self.metric not in result.mean:
            raise InvalidArgument(
                f"{self.metric} could not be computed on any fold: {'; '.join(result.warnings)}"
            )
        return result.mean[self.metric]

    def _held_out(self, trial: optuna.Trial, spec: ModelSpec) -> float:
        if self.validation is None or len(self.validation) == 0:
            raise InvalidArgument(
                "tuning without cross-validation scores trials on validation rows, and there are "
                "none: set a validation split or cv"
            )
        # The pruner compares values in the study's direction; val_loss is a loss.
        sign = 1.0 if trial.study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0

        def prune(step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
            loss = metrics.get("val_loss")
            if loss is None or not np.isfinite(loss):
                return
            trial.report(sign * float(loss), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at {unit} {step}: val_loss {loss:.6g}")

        model = fit_model(spec, self.train, self.validation, Progress([self._stop, prune]))
        result = evaluate(model, self.validation, (self.metric,), artifacts=False)
        if self.metric not in result.metrics:
            raise InvalidArgument(
                f"{self.metric} could not be computed on the validation rows: "
                f"{'; '.join(result.warnings)}"
            )
        return result.metrics[self.metric]


def make_objective(
    space: SearchSpace,
    spec_for_params: Callable[[dict[str, ParamPython]], ModelSpec],
    train: TrainingData,
    validation: TrainingData | None,
    metric: str,
    cv: tpb.CrossValidation | None,
    *,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Objective:
    if cv is None and (validation is None or len(validation) == 0):
        raise InvalidArgument(
            "tuning needs somewhere to score trials: cross-validation or validation rows"
        )
    return Objective(space, spec_for_params, train, validation, metric, cv, groups, should_stop)


# ---------------------------------------------------------------------------------------------
# The trial loop


class TrialObjective(Protocol):
    """What ``run_trials`` runs: ``Objective``, or anything that suggests and evaluates."""

    def suggest(self, trial: optuna.Trial) -> dict[str, ParamPython]: ...

    def evaluate(self, trial: optuna.Trial, params: Mapping[str, ParamPython]) -> float: ...


class TrialHooks(Protocol):
    """What the service hears about this worker's trials (called from the tuning thread)."""

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None: ...

    def trial_finished(
        self, number: int, state: str, value: float | None, params: Mapping[str, Any]
    ) -> None:
        """``state``: COMPLETE, PRUNED or FAIL; ``value`` only for COMPLETE."""


@dataclass
class TrialsSummary:
    # Trials this worker ran, and why it stopped: "max_trials", "timeout", "max_failed_trials",
    # "grid_exhausted" or "stopped" (should_stop).
    ran: int
    reason: str


def run_trials(
    study: optuna.Study,
    objective: TrialObjective,
    budget: tpb.Budget,
    *,
    should_stop: Callable[[], bool],
    hooks: TrialHooks | None = None,
) -> TrialsSummary:
    """Run trials in this worker until the study as a whole has ``budget.max_trials`` trials
    (COMPLETE, PRUNED, FAIL and RUNNING ones of every worker), ``budget.timeout`` has passed
    since the study's first worker began (a running trial is not cut),
    ``max_failed_trials`` trials failed (0: max_trials), or ``should_stop()``. A trial that
    raises is recorded FAIL with its reason; one stopped by ``should_stop`` too, without a
    ``trial_finished`` (the caller closes it)."""
    seconds = budget.timeout.ToTimedelta().total_seconds() if budget.HasField("timeout") else 0
    deadline = _study_started(study) + seconds if seconds > 0 else None
    max_trials = budget.max_trials or None
    max_failed = budget.max_failed_trials or max_trials
    lock = _LOCKS.get(study) or _process_lock(study.study_name)
    loop = _TrialLoop(objective, hooks)
    ran = 0
    while True:
        if should_stop() or loop.stopped:
            return TrialsSummary(ran, "stopped")
        if deadline is not None and time.time() >= deadline:
            return TrialsSummary(ran, "timeout")
        held = ExitStack()
        held.enter_context(lock())
        loop.release = held.close
        try:
            reason = _spent(study, max_trials, max_failed)
            if reason:
                return TrialsSummary(ran, reason)
            study.optimize(loop.run, n_trials=1, catch=(Exception,), callbacks=[loop.finished])
            ran += 1
        finally:
            loop.unlock()


def _study_started(study: optuna.Study) -> float:
    """When the first worker began (the timeout is the study's, not each worker's)."""
    started = study.user_attrs.get(STARTED_ATTR)
    if not isinstance(started, float):
        started = time.time()
        study.set_user_attr(STARTED_ATTR, started)
    return started


def _spent(study: optuna.Study, max_trials: int | None, max_failed: int | None) -> str:
    trials = study.get_trials(deepcopy=False, states=_CLAIMED)
    if max_failed is not None:
        failed = sum(t.state == optuna.trial.TrialState.FAIL for t in trials)
        if failed >= max_failed:
            return "max_failed_trials"
    if max_trials is not None and len(trials) >= max_trials:
        return "max_trials"
    sampler = study.sampler
    if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
        return "grid_exhausted"
    return ""


class _TrialLoop:
    """One worker's trial body inside ``Study.optimize``: the budget lock is released once the
    trial exists (RUNNING, so it counts), and the hooks hear of its start and end."""

    def __init__(self, objective: TrialObjective, hooks: TrialHooks | None) -> None:
        self.objective, self.hooks = objective, hooks
        self.release: Callable[[], Any] | None = None
        self.stopped = False

    def unlock(self) -> None:
        release, self.release = self.release, None
        if release is not None:
            release()

    def run(self, trial: optuna.Trial) -> float:
        self.unlock()
        params: dict[str, ParamPython] = {}
        try:
            params = self.objective.suggest(trial)
            trial.set_user_attr(PARAMS_ATTR, params)
            if self.hooks is not None:
                self.hooks.trial_started(trial.number, params)
            return self.objective.evaluate(trial, params)
        except optuna.TrialPruned:
            raise
        except TrainingStopped as exc:
            self.stopped = True
            trial.set_user_attr(FAIL_REASON_ATTR, f"stopped: {exc}")
            raise
        except Exception as exc:
            trial.set_user_attr(FAIL_REASON_ATTR, _reason(exc))
            raise

    def finished(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.hooks is None or self.stopped:
            return
        state = trial.state.name
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        self.hooks.trial_finished(trial.number, state, value, trial.user_attrs.get(PARAMS_ATTR, {}))


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark FAIL the RUNNING trials whose worker stopped sending heartbeats (it died)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return message[:1000]


def best_params(study: optuna.Study) -> tuple[int, float, dict[str, Any]] | None:
    """(number, value, params) of the best completed trial, or None when none completed."""
    try:
        best = study.best_trial
    except ValueError:
        return None
    assert best.value is not None
    return best.number, float(best.value), dict(best.user_attrs.get(PARAMS_ATTR, best.params))
