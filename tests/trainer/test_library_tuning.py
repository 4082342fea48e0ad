"""Tuning on scikit-learn's bundled data sets: the search space checks, samplers (TPE, random,
grid, CMA-ES), conditional parameters, pruning of xgboost rounds, failed trials, cancel and
timeout, tuning that beats the defaults, and two workers sharing one study in the real
PostgreSQL (and in a SQLite file) that together run exactly the budget."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from google.protobuf.duration_pb2 import Duration
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import FailedPrecondition, InvalidArgument
from services.trainer.library import evaluation, tuning
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import ModelSpec, TrainingData
from services.trainer.library.params import Param, ParamPython, ParamType, to_param_value
from services.trainer.library.preprocessing import Column, ColumnKind, PreprocessingChoice
from tests.conftest import create_pg_database, drop_pg_database

SCALED = PreprocessingChoice("median", "constant", "one_hot", "standard", 50)
KFOLD3 = tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD, folds=3, shuffle=True)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _diabetes() -> TrainingData:
    frame = load_diabetes(as_frame=True).frame
    return TrainingData(frame.drop(columns="target"), frame["target"])


def _cancer_split() -> tuple[TrainingData, TrainingData]:
    frame = load_breast_cancer(as_frame=True).frame
    train, validation = train_test_split(
        frame, test_size=0.3, random_state=0, stratify=frame["target"]
    )
    return (
        TrainingData(train.drop(columns="target"), train["target"]),
        TrainingData(validation.drop(columns="target"), validation["target"]),
    )


class SpecFor:
    """ModelSpecs of one algorithm and data set, base params overlaid with a trial's."""

    def __init__(self, algorithm: str, task: Task, data: TrainingData, **base: Any) -> None:
        self.info = get_algorithm(algorithm)
        self.task = task
        self.base = base
        self.columns = [Column(c, ColumnKind.NUMERIC, "double") for c in data.features.columns]

    def __call__(self, params: Mapping[str, ParamPython]) -> ModelSpec:
        return ModelSpec(
            self.info,
            self.task,
            self.info.resolve_params({**self.base, **params}),
            self.columns,
            SCALED,
            "target",
            options=FitOptions(seed=5),
        )


def _space(*distributions: tpb.ParamDistribution) -> tpb.SearchSpace:
    return tpb.SearchSpace(params=list(distributions))


def _dist(name: str, **kind: Any) -> tpb.ParamDistribution:
    condition = kind.pop("condition", None)
    distribution = tpb.ParamDistribution(name=name, **kind)
    if condition is not None:
        parent, values = condition
        distribution.condition.parent = parent
        distribution.condition.values.extend(to_param_value(v) for v in values)
    return distribution


def _choices(*values: ParamPython) -> tpb.Categorical:
    return tpb.Categorical(choices=[to_param_value(v) for v in values])


class Hooks:
    def __init__(self) -> None:
        self.started: list[tuple[int, dict[str, Any]]] = []
        self.finished: list[tuple[int, str, float | None, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        with self.lock:
            self.started.append((number, dict(params)))

    def trial_finished(
        self, number: int, state: str, value: float | None, params: Mapping[str, Any]
    ) -> None:
        with self.lock:
            self.finished.append((number, state, value, dict(params)))


def _never() -> bool:
    return False


# ---------------------------------------------------------------------------------------------
# Search space


def test_search_space_types_ranges_and_suggested_searches() -> None:
    info = get_algorithm("sklearn.svm")
    space = tuning.resolve_search_space(
        _space(
            _dist("kernel", categorical=_choices("linear", "rbf")),
            _dist("C"),  # no distribution: the parameter's suggested search
            _dist("gamma", float_range=tpb.FloatRange(low=1e-3, high=1.0, log=True)),
            _dist("degree", int_range=tpb.IntRange(low=2, high=4)),
        ),
        info,
        Task.CLASSIFICATION,
    )
    by_name = {d.name: d for d in space.dimensions}
    assert by_name["C"] == tuning.Dimension("C", "float", 0.01, 1000.0, None, True)
    assert by_name["kernel"].choices == ("linear", "rbf")
    # gamma and degree inherit the declared conditions on kernel, which is searched too.
    assert by_name["gamma"].condition is not None
    assert by_name["gamma"].condition.parent == "kernel"
    assert by_name["degree"].condition is not None
    assert by_name["degree"].condition.values == ("poly",)
    assert space.names.index("kernel") < space.names.index("gamma")
    # Without kernel in the space, gamma is always sampled (kernel is fixed by the base params).
    alone = tuning.resolve_search_space(_space(_dist("gamma")), info, Task.CLASSIFICATION)
    assert alone.dimensions[0].condition is None


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        (_dist("depth"), "has no hyperparameter 'depth'; its hyperparameters are: .*max_depth"),
        (_dist("max_depth", float_range=tpb.FloatRange(low=1, high=5)), "search it with int_range"),
        (_dist("ccp_alpha", int_range=tpb.IntRange(low=0, high=5)), "search it with float_range"),
        (_dist("max_depth", int_range=tpb.IntRange(low=0, high=5)), "int_range.low 0 is outside"),
        (
            _dist("min_samples_leaf", int_range=tpb.IntRange(low=0, high=9, log=True)),
            "a log int_range needs low > 0",
        ),
        (
            _dist("min_samples_leaf", int_range=tpb.IntRange(low=1, high=9, step=2, log=True)),
            "a log int_range takes no step",
        ),
        (
            _dist("min_samples_leaf", int_range=tpb.IntRange(low=1, high=10, step=2)),
            "must be a multiple of step 2",
        ),
        (
            _dist("max_depth", int_range=tpb.IntRange(low=8, high=3)),
            "int_range.low 8 is above high 3",
        ),
        (
            _dist("ccp_alpha", float_range=tpb.FloatRange(low=0.0, high=1.0, log=True)),
            "a log float_range needs low > 0",
        ),
        (
            _dist("ccp_alpha", float_range=tpb.FloatRange(low=0.1, high=1.0, step=0.1, log=True)),
            "a log float_range takes no step",
        ),
        (
            _dist("ccp_alpha", float_range=tpb.FloatRange(low=0.0, high=1.0, step=0.3)),
            "must be a multiple of step 0.3",
        ),
        (_dist("class_weight", categorical=_choices("balanced", "heavy")), "choose one of"),
        (_dist("class_weight", categorical=tpb.Categorical()), "needs at least one choice"),
        (
            _dist("max_depth", categorical=_choices(3, 3)),
            "choice 3 is listed twice",
        ),
        (
            _dist("max_depth", categorical=_choices(3, None), condition=("criterion", ["gini"])),
            "names 'criterion', which is not in the search space",
        ),
    ],
)
def test_search_space_refusals(distribution: tpb.ParamDistribution, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        tuning.resolve_search_space(
            _space(distribution), get_algorithm("sklearn.decision_tree"), Task.REGRESSION
        )


def test_search_space_refusals_across_parameters() -> None:
    info = get_algorithm("sklearn.svm")
    kernel = _dist("kernel", categorical=_choices("linear", "rbf"))
    cases = [
        (_space(kernel, kernel), "'kernel' appears twice"),
        (
            _space(kernel, _dist("gamma", condition=("kernel", ["poly"]))),
            "'kernel' is never 'poly' in the search space",
        ),
        (_space(kernel, _dist("gamma", condition=("kernel", ["cubic"]))), "choose one of"),
        (_space(_dist("C", condition=("C", [1.0]))), "names the parameter itself"),
        (
            _space(
                _dist("kernel", categorical=_choices("rbf"), condition=("C", [1.0])),
                _dist("C", categorical=_choices(1.0, 2.0), condition=("kernel", ["rbf"])),
            ),
            "form a cycle",
        ),
        (tpb.SearchSpace(), "the search space is empty"),
    ]
    for space, message in cases:
        with pytest.raises(InvalidArgument, match=message):
            tuning.resolve_search_space(space, info, Task.CLASSIFICATION)
    with pytest.raises(InvalidArgument, match="does not do clustering"):
        tuning.resolve_search_space(_space(_dist("C")), info, Task.CLUSTERING)


def test_conditional_parameters_are_sampled_only_under_their_parent() -> None:
    space = tuning.resolve_search_space(
        _space(
            _dist("kernel", categorical=_choices("linear", "rbf", "poly")),
            _dist("C"),
            _dist(
                "gamma",
                float_range=tpb.FloatRange(low=1e-3, high=1.0, log=True),
                condition=("kernel", ["rbf"]),
            ),
            _dist("degree"),  # inherits kernel == poly
        ),
        get_algorithm("sklearn.svm"),
        Task.CLASSIFICATION,
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    kernels = set()
    for _ in range(30):
        trial = study.ask()
        values = space.suggest(trial)
        kernels.add(values["kernel"])
        assert ("gamma" in values) == (values["kernel"] == "rbf")
        assert ("degree" in values) == (values["kernel"] == "poly")
        assert set(trial.params) == set(values)
        study.tell(trial, 0.0)
    assert kernels == {"linear", "rbf", "poly"}


def test_conditional_search_end_to_end_on_breast_cancer() -> None:
    train, validation = _cancer_split()
    spec_for = SpecFor("sklearn.svm", Task.CLASSIFICATION, train, probability=False)
    space = tuning.resolve_search_space(
        _space(_dist("kernel", categorical=_choices("linear", "rbf")), _dist("C"), _dist("gamma")),
        spec_for.info,
        Task.CLASSIFICATION,
    )
    study = optuna.create_study(
        direction="maximize", sampler=tuning.make_sampler(tpb.Sampler(), space, 3)
    )
    objective = tuning.make_objective(space, spec_for, train, validation, "accuracy", None)
    hooks = Hooks()
    summary = tuning.run_trials(
        study, objective, tpb.Budget(max_trials=6), should_stop=_never, hooks=hooks
    )
    assert summary == tuning.TrialsSummary(6, "max_trials")
    assert [n for n, _ in hooks.started] == [n for n, *_ in hooks.finished] == list(range(6))
    for _, state, value, params in hooks.finished:
        assert state == "COMPLETE" and value is not None and 0.5 < value <= 1.0
        assert ("gamma" in params) == (params["kernel"] == "rbf")
    best = tuning.best_params(study)
    assert best is not None
    number, value, params = best
    assert value == max(v for _, _, v, _ in hooks.finished if v is not None) >= 0.93
    assert params == hooks.started[number][1]


def test_list_choices_reach_optuna_as_text_and_come_back_as_lists() -> None:
    knn = get_algorithm("sklearn.knn")
    layers = Param("layers", ParamType.INT_LIST, [8], "Hidden layer sizes.", minimum=1)
    info = dataclasses.replace(knn, params=(*knn.params, layers))
    space = tuning.resolve_search_space(
        _space(_dist("layers", categorical=_choices([16], [32, 16]))), info, Task.REGRESSION
    )
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space.grid()))
    seen: list[Any] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(space.suggest(trial)["layers"])
        return float(len(seen[-1]))

    study.optimize(objective, n_trials=2)
    assert {t.params["layers"] for t in study.trials} == {"[16]", "[32, 16]"}
    assert sorted(seen) == [[16], [32, 16]]


def test_a_parameter_without_a_suggested_search_needs_a_distribution() -> None:
    knn = get_algorithm("sklearn.knn")
    note = Param("note", ParamType.STRING, "", "Free text.")
    info = dataclasses.replace(knn, params=(*knn.params, note))
    with pytest.raises(InvalidArgument, match="'note' has no suggested search range"):
        tuning.resolve_search_space(_space(_dist("note")), info, Task.REGRESSION)
    # A bounded parameter without a declared search searches its whole range.
    folds = tuning.resolve_search_space(
        _space(_dist("cv_folds")), get_algorithm("sklearn.decision_tree"), Task.REGRESSION
    )
    assert folds.dimensions[0] == tuning.Dimension("cv_folds", "int", 2, 20, 1)


# ---------------------------------------------------------------------------------------------
# Samplers and pruners


def _knn_space() -> tuning.SearchSpace:
    return tuning.resolve_search_space(
        _space(
            _dist("n_neighbors", categorical=_choices(5, 15, 30)),
            _dist("weights", categorical=_choices("uniform", "distance")),
        ),
        get_algorithm("sklearn.knn"),
        Task.REGRESSION,
    )


def test_samplers_and_pruners_of_each_kind() -> None:
    space = _knn_space()
    assert isinstance(tuning.make_sampler(tpb.Sampler(), space, 1), optuna.samplers.TPESampler)
    random = tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_RANDOM), space, 1)
    assert isinstance(random, optuna.samplers.RandomSampler)
    assert isinstance(
        tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_GRID), space, 1),
        optuna.samplers.GridSampler,
    )
    with pytest.raises(InvalidArgument, match="CMA-ES searches numeric ranges"):
        tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_CMA_ES), space, 1)
    continuous = tuning.resolve_search_space(
        _space(_dist("C"), _dist("epsilon", float_range=tpb.FloatRange(low=0.0, high=1.0))),
        get_algorithm("sklearn.svm"),
        Task.REGRESSION,
    )
    with pytest.raises(InvalidArgument, match="C, epsilon are continuous"):
        tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_GRID), continuous, 1)
    assert isinstance(tuning.make_pruner(tpb.Pruner(), True), optuna.pruners.MedianPruner)
    assert isinstance(tuning.make_pruner(tpb.Pruner(), False), optuna.pruners.NopPruner)
    kinds = {
        tpb.PRUNER_KIND_NONE: optuna.pruners.NopPruner,
        tpb.PRUNER_KIND_MEDIAN: optuna.pruners.MedianPruner,
        tpb.PRUNER_KIND_SUCCESSIVE_HALVING: optuna.pruners.SuccessiveHalvingPruner,
        tpb.PRUNER_KIND_HYPERBAND: optuna.pruners.HyperbandPruner,
    }
    for kind, expected in kinds.items():
        assert isinstance(tuning.make_pruner(tpb.Pruner(kind=kind), False), expected)
    with pytest.raises(InvalidArgument, match="must be >= 0"):
        tuning.make_pruner(tpb.Pruner(warmup_steps=-1), True)


def test_grid_search_runs_every_point_once_then_stops() -> None:
    data = _diabetes()
    space = _knn_space()
    study = optuna.create_study(
        sampler=tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_GRID), space, 1)
    )
    objective = tuning.make_objective(
        space, SpecFor("sklearn.knn", Task.REGRESSION, data), data, None, "rmse", KFOLD3
    )
    hooks = Hooks()
    summary = tuning.run_trials(
        study, objective, tpb.Budget(max_trials=20), should_stop=_never, hooks=hooks
    )
    assert summary == tuning.TrialsSummary(6, "grid_exhausted")
    points = {(p["n_neighbors"], p["weights"]) for _, p in hooks.started}
    assert points == {(k, w) for k in (5, 15, 30) for w in ("uniform", "distance")}


def test_cma_es_searches_numeric_ranges() -> None:
    data = _diabetes()
    space = tuning.resolve_search_space(
        _space(
            _dist("n_neighbors", int_range=tpb.IntRange(low=2, high=40)),
            _dist("weights", categorical=_choices("uniform", "distance")),
        ),
        get_algorithm("sklearn.knn"),
        Task.REGRESSION,
    )
    sampler = tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_CMA_ES), space, 4)
    assert isinstance(sampler, optuna.samplers.CmaEsSampler)
    study = optuna.create_study(sampler=sampler)
    objective = tuning.make_objective(
        space, SpecFor("sklearn.knn", Task.REGRESSION, data), data, None, "rmse", KFOLD3
    )
    summary = tuning.run_trials(study, objective, tpb.Budget(max_trials=5), should_stop=_never)
    assert summary.ran == 5
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert all(2 <= t.params["n_neighbors"] <= 40 for t in study.trials)


def test_median_pruner_prunes_xgboost_rounds() -> None:
    train, validation = _cancer_split()
    spec_for = SpecFor(
        "xgboost.gbdt", Task.CLASSIFICATION, train, n_estimators=40, early_stopping_rounds=None
    )
    space = tuning.resolve_search_space(
        _space(_dist("learning_rate", float_range=tpb.FloatRange(low=1e-3, high=0.5, log=True))),
        spec_for.info,
        Task.CLASSIFICATION,
    )
    study = optuna.create_study(
        direction="maximize",
        sampler=tuning.make_sampler(tpb.Sampler(kind=tpb.SAMPLER_KIND_RANDOM), space, 11),
        pruner=tuning.make_pruner(
            tpb.Pruner(kind=tpb.PRUNER_KIND_MEDIAN, startup_trials=3, warmup_steps=5),
            spec_for.info.iterative,
        ),
    )
    objective = tuning.make_objective(space, spec_for, train, validation, "roc_auc", None)
    hooks = Hooks()
    tuning.run_trials(study, objective, tpb.Budget(max_trials=12), should_stop=_never, hooks=hooks)
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert pruned, [t.params for t in study.trials]
    states = {n: (s, v) for n, s, v, _ in hooks.finished}
    best = study.best_trial
    for trial in pruned:
        assert states[trial.number] == ("PRUNED", None)
        step = trial.last_step
        assert step is not None and step < 40
        # Intermediate values are -val_loss in a maximised study: a pruned trial was behind.
        assert trial.intermediate_values[step] < best.intermediate_values[step]
    assert best.value is not None and best.value >= 0.97


# ---------------------------------------------------------------------------------------------
# Failures, cancel, timeout


def _knn_objective(space: tuning.SearchSpace, **kw: Any) -> tuning.Objective:
    data = _diabetes()
    return tuning.make_objective(
        space, SpecFor("sklearn.knn", Task.REGRESSION, data), data, None, "rmse", KFOLD3, **kw
    )


def test_a_bad_combination_fails_its_trial_not_the_study() -> None:
    space = tuning.resolve_search_space(
        _space(_dist("n_neighbors", categorical=_choices(10, 1000))),
        get_algorithm("sklearn.knn"),
        Task.REGRESSION,
    )
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space.grid()))
    hooks = Hooks()
    summary = tuning.run_trials(
        study, _knn_objective(space), tpb.Budget(max_trials=2), should_stop=_never, hooks=hooks
    )
    assert summary.ran == 2
    by_k = {t.params["n_neighbors"]: t for t in study.trials}
    assert by_k[10].state == optuna.trial.TrialState.COMPLETE
    failed = by_k[1000]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "n_neighbors" in failed.user_attrs[tuning.FAIL_REASON_ATTR]
    assert sorted(s for _, s, _, _ in hooks.finished) == ["COMPLETE", "FAIL"]
    best = tuning.best_params(study)
    assert best is not None and best[2] == {"n_neighbors": 10}


def test_max_failed_trials_stops_the_study() -> None:
    space = tuning.resolve_search_space(
        _space(_dist("n_neighbors", int_range=tpb.IntRange(low=500, high=900))),
        get_algorithm("sklearn.knn"),
        Task.REGRESSION,
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    summary = tuning.run_trials(
        study,
        _knn_objective(space),
        tpb.Budget(max_trials=10, max_failed_trials=3),
        should_stop=_never,
    )
    assert summary == tuning.TrialsSummary(3, "max_failed_trials")
    assert tuning.best_params(study) is None


def test_should_stop_between_trials_and_inside_one() -> None:
    space = _knn_space()
    hooks = Hooks()
    study = optuna.create_study()
    summary = tuning.run_trials(
        study,
        _knn_objective(space),
        tpb.Budget(max_trials=10),
        should_stop=lambda: len(hooks.finished) >= 2,
        hooks=hooks,
    )
    assert summary == tuning.TrialsSummary(2, "stopped")
    # Cancelled while the third trial cross-validates: it stops at its next fold.
    cancel = threading.Event()

    class CancelOnStart(Hooks):
        def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
            super().trial_started(number, params)
            if number == 1:
                cancel.set()

    hooks = CancelOnStart()
    study = optuna.create_study()
    summary = tuning.run_trials(
        study,
        _knn_objective(space, should_stop=cancel.is_set),
        tpb.Budget(max_trials=10),
        should_stop=cancel.is_set,
        hooks=hooks,
    )
    assert summary == tuning.TrialsSummary(2, "stopped")
    stopped = study.trials[1]
    assert stopped.state == optuna.trial.TrialState.FAIL
    assert stopped.user_attrs[tuning.FAIL_REASON_ATTR].startswith("stopped")
    assert [n for n, *_ in hooks.finished] == [0]  # the caller closes the stopped trial


def test_the_budget_timeout_ends_the_trials() -> None:
    study = optuna.create_study()
    began = time.monotonic()
    summary = tuning.run_trials(
        study,
        _knn_objective(_knn_space()),
        tpb.Budget(timeout=Duration(seconds=1)),
        should_stop=_never,
    )
    assert summary.reason == "timeout" and summary.ran >= 1
    assert time.monotonic() - began < 5
    # The timeout is the study's: a worker joining later finds it spent.
    late = tuning.run_trials(
        study,
        _knn_objective(_knn_space()),
        tpb.Budget(timeout=Duration(seconds=1)),
        should_stop=_never,
    )
    assert late == tuning.TrialsSummary(0, "timeout")


# ---------------------------------------------------------------------------------------------
# Tuning beats the defaults


@pytest.mark.parametrize(
    ("algorithm", "distributions"),
    [
        ("sklearn.knn", [_dist("n_neighbors")]),
        (
            "sklearn.decision_tree",
            [
                _dist("max_depth", int_range=tpb.IntRange(low=1, high=8)),
                _dist("min_samples_leaf", int_range=tpb.IntRange(low=1, high=60, log=True)),
            ],
        ),
    ],
)
def test_tuning_beats_the_defaults(algorithm: str, distributions: list[Any]) -> None:
    data = _diabetes()
    spec_for = SpecFor(algorithm, Task.REGRESSION, data)
    default = evaluation.cross_validate(spec_for({}), data, KFOLD3, ["rmse"]).mean["rmse"]
    space = tuning.resolve_search_space(_space(*distributions), spec_for.info, Task.REGRESSION)
    study = optuna.create_study(
        direction="minimize", sampler=tuning.make_sampler(tpb.Sampler(), space, 5)
    )
    objective = tuning.make_objective(space, spec_for, data, None, "rmse", KFOLD3)
    tuning.run_trials(study, objective, tpb.Budget(max_trials=12), should_stop=_never)
    best = tuning.best_params(study)
    assert best is not None
    _, value, params = best
    # The same folds and seed: the tuned model's CV RMSE is lower.
    assert value < default, (value, default, params)
    again = evaluation.cross_validate(spec_for(params), data, KFOLD3, ["rmse"]).mean["rmse"]
    assert again == pytest.approx(value)


# ---------------------------------------------------------------------------------------------
# Shared studies


def test_sync_urls() -> None:
    assert tuning.sync_url("sqlite+aiosqlite:///a/b.db") == "sqlite:///a/b.db"
    assert (
        tuning.sync_url("postgresql+asyncpg://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    )
    with pytest.raises(InvalidArgument, match="not in memory"):
        tuning.optuna_storage("sqlite+aiosqlite:///:memory:")


def _workers(db_url: str, name: str, workers: int, max_trials: int) -> list[Hooks]:
    """``workers`` threads, each with its own storage (as separate replicas would have)."""
    space = _knn_space()
    objective = _knn_objective(
        tuning.resolve_search_space(
            _space(_dist("n_neighbors"), _dist("weights", categorical=_choices("uniform"))),
            get_algorithm("sklearn.knn"),
            Task.REGRESSION,
        )
    )
    start = threading.Barrier(workers)
    hooks = [Hooks() for _ in range(workers)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            storage = tuning.optuna_storage(db_url)
            try:
                study = tuning.open_study(
                    storage,
                    name,
                    "minimize",
                    tuning.make_sampler(tpb.Sampler(), space, index),
                    tuning.make_pruner(tpb.Pruner(), False),
                )
                start.wait(timeout=30)
                tuning.run_trials(
                    study,
                    objective,
                    tpb.Budget(max_trials=max_trials),
                    should_stop=_never,
                    hooks=hooks[index],
                )
            finally:
                tuning.close_storage(storage)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return hooks


def _check_shared(db_url: str, name: str, hooks: list[Hooks], max_trials: int) -> None:
    numbers = sorted(n for h in hooks for n, *_ in h.finished)
    assert numbers == list(range(max_trials))
    assert all(h.finished for h in hooks), "a worker ran no trial"
    storage = tuning.optuna_storage(db_url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials()
        assert len(trials) == max_trials
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        best = tuning.best_params(study)
        assert best is not None
        assert best[1] == min(v for h in hooks for _, _, v, _ in h.finished if v is not None)
    finally:
        tuning.close_storage(storage)


@pytest.mark.integration
async def test_two_workers_share_one_study_in_postgresql() -> None:
    url = await create_pg_database("aimass_optuna")
    try:
        hooks = await asyncio.to_thread(_workers, url, "shared", 2, 8)
        await asyncio.to_thread(_check_shared, url, "shared", hooks, 8)
    finally:
        await drop_pg_database(url)


def test_two_workers_share_one_study_in_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'studies' / 'studies.db'}"
    hooks = _workers(url, "shared", 2, 6)
    _check_shared(url, "shared", hooks, 6)


def test_open_study_refuses_another_direction(tmp_path: Path) -> None:
    storage = tuning.optuna_storage(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    try:
        sampler, pruner = optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
        tuning.open_study(storage, "s", "minimize", sampler, pruner)
        with pytest.raises(FailedPrecondition, match="minimizes its objective, not maximize"):
            tuning.open_study(storage, "s", "maximize", sampler, pruner)
    finally:
        tuning.close_storage(storage)


# A worker that dies in the middle of its trial (killed by the test once the trial runs).
_DYING_WORKER = """
import sys, time
import optuna
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.trainer.library import tuning

class Sleeper:
    def suggest(self, trial):
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def evaluate(self, trial, params):
        print("running", flush=True)
        time.sleep(600)
        return params["x"]

storage = tuning.optuna_storage(sys.argv[1], heartbeat_interval=1, grace_period=2)
study = tuning.open_study(
    storage, "s", "minimize", optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
)
tuning.run_trials(study, Sleeper(), tpb.Budget(max_trials=3), should_stop=lambda: False)
"""


class Quick:
    def suggest(self, trial: optuna.Trial) -> dict[str, ParamPython]:
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def evaluate(self, trial: optuna.Trial, params: Mapping[str, ParamPython]) -> float:
        value = params["x"]
        assert isinstance(value, float)
        return value


def test_a_dead_workers_trial_fails_and_the_others_finish_the_budget(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'studies.db'}"
    dying = subprocess.Popen(
        [sys.executable, "-c", _DYING_WORKER, url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert dying.stdout is not None
        assert dying.stdout.readline().strip() == "running"
    finally:
        dying.kill()
        dying.wait(timeout=30)
        if dying.stdout is not None:
            dying.stdout.close()
    storage = tuning.optuna_storage(url, heartbeat_interval=1, grace_period=2)
    try:
        study = tuning.open_study(
            storage, "s", "minimize", optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
        )
        (orphan,) = study.get_trials()
        assert orphan.state == optuna.trial.TrialState.RUNNING
        time.sleep(3)  # past the grace period without a heartbeat
        summary = tuning.run_trials(study, Quick(), tpb.Budget(max_trials=3), should_stop=_never)
        states = [t.state for t in study.get_trials()]
        assert states == [
            optuna.trial.TrialState.FAIL,
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.COMPLETE,
        ]
        assert summary == tuning.TrialsSummary(2, "max_trials")
    finally:
        tuning.close_storage(storage)
