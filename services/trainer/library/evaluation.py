"""Evaluation of a fitted model (each task's metrics and artifacts) and cross-validation: k-fold,
stratified, group and time series, with the preprocessing fitted per fold on the fold's training
rows only.

The metrics live in ``eval_metrics``, the artifacts in ``eval_artifacts``; this module is the
entry point the service uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.trainer.library.base import Progress, Task
from services.trainer.library.eval_artifacts import task_artifacts
from services.trainer.library.eval_metrics import (
    DEFAULT_METRICS,
    KNOWN_METRICS,
    Direction,
    Outputs,
    compute,
    direction,
    validate_metrics,
)
from services.trainer.library.model import FittedModel, ModelSpec, TrainingData, _windows, fit_model

__all__ = [
    "DEFAULT_METRICS",
    "KNOWN_METRICS",
    "CvResult",
    "Direction",
    "Evaluation",
    "ResolvedCv",
    "check_folds",
    "cross_validate",
    "direction",
    "evaluate",
    "fold_indices",
    "validate_metrics",
]

MIN_FOLDS, MAX_FOLDS, DEFAULT_FOLDS = 2, 20, 5

KFOLD, STRATIFIED, GROUP, TIME_SERIES = "kfold", "stratified_kfold", "group_kfold", "time_series"
_METHODS = {
    tpb.CV_METHOD_KFOLD: KFOLD,
    tpb.CV_METHOD_STRATIFIED_KFOLD: STRATIFIED,
    tpb.CV_METHOD_GROUP_KFOLD: GROUP,
    tpb.CV_METHOD_TIME_SERIES: TIME_SERIES,
}


@dataclass
class Evaluation:
    metrics: dict[str, float]
    # JSON-serialisable documents: confusion_matrix, roc_curve, pr_curve, feature_importance, ...
    artifacts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Rows (windows, for sequence tasks) evaluated.
    rows: int = 0


def evaluate(
    model: FittedModel, data: TrainingData, metrics: Sequence[str] = (), *, artifacts: bool = True
) -> Evaluation:
    """``metrics`` (the task's defaults when empty) of ``model`` on ``data``'s rows and, unless
    ``artifacts`` is False (cross-validation folds, tuning trials), the task's artifacts."""
    names = validate_metrics(model.spec.task, metrics)
    if len(data) == 0:
        raise InvalidArgument("no rows to evaluate on: the evaluation split is empty")
    outputs = _outputs(model, data)
    values, warnings = compute(outputs, names)
    result = Evaluation(values, warnings=warnings, rows=len(outputs.x))
    if artifacts:
        result.artifacts = task_artifacts(model, outputs, result.warnings)
    return result


def _outputs(model: FittedModel, data: TrainingData) -> Outputs:
    spec = model.spec
    task = spec.task
    if task.supervised and data.target is None:
        raise InvalidArgument(f"evaluating {task.value} needs the target column's values")
    x = model.matrix(data.features)
    y = model.encode_target(data.target) if task.supervised and data.target is not None else None
    if spec.sequence is not None:
        x, y = _windows(spec, x, y, data.series)
        if len(x) == 0:
            raise InvalidArgument(
                f"the evaluation rows make no window of {spec.sequence.window} steps: "
                "evaluate on more rows"
            )
    predicted = np.asarray(model.learner.predict(x))
    proba = None
    if task.classifies:
        raw = model.learner.predict_proba(x)
        if raw is not None:
            proba = np.asarray(raw, dtype=np.float64)
            proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    return Outputs(task, x, y, predicted, proba, len(model.classes), spec.options.seed)


# ---------------------------------------------------------------------------------------------
# Cross-validation


@dataclass(frozen=True)
class ResolvedCv:
    method: str  # KFOLD, STRATIFIED, GROUP or TIME_SERIES
    folds: int
    shuffle: bool = False
    gap: int = 0


@dataclass
class CvResult:
    cv: ResolvedCv
    # One entry per fold: metric -> value (a metric that fold could not compute is absent).
    folds: list[dict[str, float]]
    mean: dict[str, float]
    std: dict[str, float]
    # (training rows, evaluated rows) of each fold.
    sizes: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


FoldListener = Callable[[int, int, Mapping[str, float]], None]


def default_method(task: Task) -> str:
    if task.sequential:
        return TIME_SERIES
    return STRATIFIED if task.classifies else KFOLD


def check_folds(
    cv: tpb.CrossValidation,
    task: Task,
    n_rows: int,
    y: Sequence[Any] | np.ndarray | pd.Series | None = None,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
) -> ResolvedCv:
    """The cross-validation ``cv`` asks for (defaults filled in: 5 folds; stratified for
    classification, time series for sequence tasks, k-fold otherwise), or InvalidArgument when it
    cannot run on ``n_rows`` rows (with their targets ``y`` and ``groups`` when given)."""
    folds = cv.folds or DEFAULT_FOLDS
    if not MIN_FOLDS <= folds <= MAX_FOLDS:
        raise InvalidArgument(f"cv.folds is {folds}: send {MIN_FOLDS}..{MAX_FOLDS} (0: 5)")
    method = _METHODS.get(cv.method) or default_method(task)
    if task.sequential and method != TIME_SERIES:
        raise InvalidArgument(
            f"{task.value} takes only time-series cross-validation: set cv.method TIME_SERIES"
        )
    if method == STRATIFIED and not task.classifies:
        raise InvalidArgument(
            f"stratified cross-validation needs classes; {task.value} has none: use KFOLD"
        )
    if cv.gap < 0 or (cv.gap and method != TIME_SERIES):
        raise InvalidArgument("cv.gap applies to TIME_SERIES cross-validation only and is >= 0")
    if cv.shuffle and method == TIME_SERIES:
        raise InvalidArgument("time-series cross-validation keeps the row order: unset cv.shuffle")
    resolved = ResolvedCv(method, folds, cv.shuffle, cv.gap)
    if method == TIME_SERIES:
        _check_time_series(n_rows, folds, cv.gap)
    elif n_rows < 2 * folds:
        raise InvalidArgument(
            f"too few rows for {folds}-fold cross-validation: {n_rows} training rows, at least "
            f"{2 * folds} needed (2 per fold); use fewer folds"
        )
    if method == STRATIFIED and y is not None:
        _check_strata(y, folds)
    if method == GROUP and groups is not None:
        _check_groups(groups, folds, n_rows)
    return resolved


def _check_time_series(n_rows: int, folds: int, gap: int) -> None:
    test = n_rows // (folds + 1)
    if test < 1:
        raise InvalidArgument(
            f"too few rows for {folds} time-series folds: {n_rows} rows, at least {folds + 1} "
            "needed; use fewer folds"
        )
    first_train = n_rows - gap - folds * test
    if first_train < 2:
        raise InvalidArgument(
            f"cv.gap {gap} is too large: with {n_rows} rows and {folds} folds of {test} rows "
            f"the first fold keeps {max(first_train, 0)} training rows (at least 2); "
            f"use a gap of at most {n_rows - folds * test - 2} or fewer folds"
        )


def _check_strata(y: Sequence[Any] | np.ndarray | pd.Series, folds: int) -> None:
    values = pd.Series(np.asarray(y, dtype=object))
    if values.isna().any():
        raise InvalidArgument(
            f"the target column has {int(values.isna().sum())} missing values: drop or fill "
            "them in the dataset's recipe"
        )
    counts = values.value_counts()
    rare = counts[counts < folds]
    if len(rare):
        shown = ", ".join(f"{label!r} ({count} rows)" for label, count in rare.items())
        raise InvalidArgument(
            f"stratified {folds}-fold cross-validation needs at least {folds} rows of each "
            f"class; rarer: {shown}. Use fewer folds or drop the rare classes"
        )


def _check_groups(groups: Sequence[Any] | np.ndarray | pd.Series, folds: int, n: int) -> None:
    values = pd.Series(np.asarray(groups, dtype=object))
    if len(values) != n:
        raise InvalidArgument(f"{len(values)} group values for {n} training rows")
    if values.isna().any():
        raise InvalidArgument(
            f"the group column has {int(values.isna().sum())} missing values: fill or drop them"
        )
    distinct = values.nunique()
    if distinct < folds:
        raise InvalidArgument(
            f"group {folds}-fold cross-validation needs at least {folds} groups; the group "
            f"column has {distinct}. Use fewer folds"
        )


def cross_validate(
    spec: ModelSpec,
    data: TrainingData,
    cv: tpb.CrossValidation,
    metrics: Sequence[str] = (),
    *,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    on_fold: FoldListener | None = None,
    progress: Progress | None = None,
) -> CvResult:
    """Fit ``spec`` (preprocessing and learner) on each fold's training rows and evaluate it on
    the fold's other rows. Folds fit without validation rows: the evaluated rows never steer
    early stopping. ``on_fold(index, total, metrics)`` follows each fold and may raise to stop;
    ``progress`` goes to each fold's fit (a listener may raise to stop it)."""
    names = validate_metrics(spec.task, metrics)
    strata = data.target if spec.task.classifies else None
    resolved = check_folds(cv, spec.task, len(data), y=strata, groups=groups)
    if resolved.method == GROUP and groups is None:
        raise InvalidArgument("group cross-validation needs groups: set data.group_column")
    splits = fold_indices(resolved, data, groups, spec.options.seed)
    result = CvResult(resolved, [], {}, {})
    for index, (train_rows, test_rows) in enumerate(splits):
        model = fit_model(spec, _subset(data, train_rows), None, progress)
        evaluation = evaluate(model, _subset(data, test_rows), names, artifacts=False)
        result.folds.append(evaluation.metrics)
        result.sizes.append((len(train_rows), len(test_rows)))
        result.warnings.extend(f"fold {index + 1}: {w}" for w in evaluation.warnings)
        if on_fold is not None:
            on_fold(index, len(splits), evaluation.metrics)
    for name in names:
        values = [fold[name] for fold in result.folds if name in fold]
        if values:
            result.mean[name] = float(np.mean(values))
            result.std[name] = float(np.std(values))
    return result


def fold_indices(
    cv: ResolvedCv,
    data: TrainingData,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training row positions, evaluated row positions) of each fold."""
    return [(np.asarray(a), np.asarray(b)) for a, b in _splits(cv, data, groups, seed)]


def _splits(
    cv: ResolvedCv,
    data: TrainingData,
    groups: Sequence[Any] | np.ndarray | pd.Series | None,
    seed: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(data)
    rows = np.zeros((n, 1))
    state = seed % 2**32 if cv.shuffle else None
    if cv.method == TIME_SERIES:
        return _time_series_splits(cv, n, data.series)
    if cv.method == STRATIFIED:
        assert data.target is not None
        labels = data.target.astype(str).to_numpy()
        stratified = StratifiedKFold(cv.folds, shuffle=cv.shuffle, random_state=state)
        return stratified.split(rows, labels)
    if cv.method == GROUP:
        assert groups is not None
        codes = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
        grouped = GroupKFold(cv.folds, shuffle=cv.shuffle, random_state=state)
        return grouped.split(rows, groups=codes)
    return KFold(cv.folds, shuffle=cv.shuffle, random_state=state).split(rows)


def _time_series_splits(
    cv: ResolvedCv, n: int, series: pd.Series | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Expanding windows in row order (rows arrive in time order); with several series, each
    series is split on its own rows and fold k unites the series' k-th folds."""
    splitter = TimeSeriesSplit(cv.folds, gap=cv.gap)
    if series is None:
        yield from splitter.split(np.zeros((n, 1)))
        return
    codes, names = pd.factorize(series.reset_index(drop=True), use_na_sentinel=False)
    per_series = []
    for code, name in enumerate(names):
        positions = np.flatnonzero(codes == code)
        try:
            _check_time_series(len(positions), cv.folds, cv.gap)
        except InvalidArgument as exc:
            raise InvalidArgument(f"series {name!r}: {exc.message}") from None
        per_series.append(
            [(positions[a], positions[b]) for a, b in splitter.split(np.zeros((len(positions), 1)))]
        )
    for fold in zip(*per_series, strict=True):
        yield (
            np.sort(np.concatenate([train for train, _ in fold])),
            np.sort(np.concatenate([test for _, test in fold])),
        )


def _subset(data: TrainingData, rows: np.ndarray) -> TrainingData:
    return TrainingData(
        features=data.features.iloc[rows],
        target=None if data.target is None else data.target.iloc[rows],
        sample_weight=None if data.sample_weight is None else data.sample_weight[rows],
        series=None if data.series is None else data.series.iloc[rows],
    )
