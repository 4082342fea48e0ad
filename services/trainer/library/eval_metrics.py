"""Each task's metrics, computed on what the learner made of the rows (class labels encoded
0..k-1 as ``fit_model`` encodes them; sequence tasks on their windows).

A metric that cannot be computed on the given rows (ROC-AUC with one class present, a silhouette
with one cluster) raises ``Undefined`` with the reason, so callers keep only finite values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm

from services.common.errors import InvalidArgument
from services.trainer.library.base import Task

Direction = Literal["maximize", "minimize"]

DEFAULT_METRICS: Mapping[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    Task.REGRESSION: ("rmse", "mae", "r2"),
    Task.CLUSTERING: ("silhouette", "davies_bouldin"),
    Task.DIMENSIONALITY_REDUCTION: ("explained_variance",),
    Task.FORECASTING: ("rmse", "mae"),
    Task.SEQUENCE_CLASSIFICATION: ("accuracy", "f1"),
}

_CLASSIFICATION = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
)
_REGRESSION = ("rmse", "mse", "mae", "r2", "mape")
# Every metric each task knows (the defaults first).
KNOWN_METRICS: Mapping[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: _CLASSIFICATION,
    Task.REGRESSION: _REGRESSION,
    Task.CLUSTERING: ("silhouette", "davies_bouldin", "calinski_harabasz"),
    Task.DIMENSIONALITY_REDUCTION: ("explained_variance",),
    Task.FORECASTING: _REGRESSION,
    Task.SEQUENCE_CLASSIFICATION: _CLASSIFICATION,
}
_MINIMIZED = frozenset({"log_loss", "rmse", "mse", "mae", "mape", "davies_bouldin"})

# A silhouette is computed on at most this many rows (it is quadratic in the rows).
MAX_SILHOUETTE_ROWS = 5000


def validate_metrics(task: Task, names: Sequence[str]) -> tuple[str, ...]:
    """``names`` without duplicates (the task's defaults when empty); InvalidArgument for a
    metric the task does not know."""
    if not names:
        return DEFAULT_METRICS[task]
    known = KNOWN_METRICS[task]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidArgument(
            f"{task.value} has no metric {', '.join(map(repr, unknown))}; "
            f"its metrics are: {', '.join(known)}"
        )
    return tuple(dict.fromkeys(names))


def direction(metric: str) -> Direction:
    """Whether a larger value of ``metric`` is better."""
    if not any(metric in names for names in KNOWN_METRICS.values()):
        every = sorted({n for names in KNOWN_METRICS.values() for n in names})
        raise InvalidArgument(f"unknown metric {metric!r}; known metrics: {', '.join(every)}")
    return "minimize" if metric in _MINIMIZED else "maximize"


class Undefined(Exception):
    """A metric that cannot be computed on these rows; the message says why."""


@dataclass
class Outputs:
    """What the learner made of the rows, in its own encoding."""

    task: Task
    x: np.ndarray  # the matrix (or windows) the learner saw
    y: np.ndarray | None  # encoded targets
    predicted: np.ndarray
    proba: np.ndarray | None  # rows x classes, rows summing to 1
    n_classes: int
    seed: int


def compute(outputs: Outputs, names: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """The finite values of ``names``, and a warning for each metric left out."""
    values: dict[str, float] = {}
    warnings: list[str] = []
    for name in names:
        try:
            value = float(METRIC_FUNCTIONS[name](outputs))
        except Undefined as exc:
            warnings.append(f"{name} was not computed: {exc}")
            continue
        if math.isfinite(value):
            values[name] = value
        else:
            warnings.append(f"{name} was not computed: it is not finite on these rows")
    return values, warnings


def _labels(out: Outputs) -> tuple[np.ndarray, np.ndarray]:
    assert out.y is not None
    return out.y.astype(np.int64).ravel(), out.predicted.astype(np.int64).ravel()


def _average(out: Outputs) -> dict[str, Any]:
    """Binary: of the second class; multiclass: the macro mean over the classes that occur in
    the rows or the predictions (a class absent from both would count as a zero)."""
    if out.n_classes == 2:
        return {"labels": [0, 1], "average": "binary", "zero_division": 0.0}
    return {"average": "macro", "zero_division": 0.0}


def _accuracy(out: Outputs) -> float:
    return float(skm.accuracy_score(*_labels(out)))


def _balanced_accuracy(out: Outputs) -> float:
    y, predicted = _labels(out)
    present = np.unique(y)
    if len(present) < 2:
        raise Undefined("the rows hold one class")
    # The mean recall of the classes in the rows (scikit-learn's balanced accuracy, without its
    # warning when a prediction names a class the rows lack).
    return float(skm.recall_score(y, predicted, labels=present, average="macro", zero_division=0.0))


def _precision(out: Outputs) -> float:
    y, predicted = _labels(out)
    return float(skm.precision_score(y, predicted, **_average(out)))


def _recall(out: Outputs) -> float:
    y, predicted = _labels(out)
    return float(skm.recall_score(y, predicted, **_average(out)))


def _f1(out: Outputs) -> float:
    y, predicted = _labels(out)
    return float(skm.f1_score(y, predicted, **_average(out)))


def _probabilities(out: Outputs) -> np.ndarray:
    if out.proba is None:
        raise Undefined("the model gives no class probabilities")
    return out.proba


def _one_vs_rest(out: Outputs, score: Callable[[np.ndarray, np.ndarray], float]) -> float:
    """Binary: ``score`` of the second class; multiclass: the macro mean over the classes present
    with both positive and negative rows (one-vs-rest)."""
    proba = _probabilities(out)
    y, _ = _labels(out)
    if len(np.unique(y)) < 2:
        raise Undefined("the rows hold one class")
    if out.n_classes == 2:
        return score((y == 1).astype(np.int64), proba[:, 1])
    values = [
        score((y == c).astype(np.int64), proba[:, c])
        for c in range(out.n_classes)
        if 0 < np.count_nonzero(y == c) < len(y)
    ]
    return float(np.mean(values))


def _roc_auc(out: Outputs) -> float:
    return _one_vs_rest(out, lambda y, s: float(skm.roc_auc_score(y, s)))


def _average_precision(out: Outputs) -> float:
    return _one_vs_rest(out, lambda y, s: float(skm.average_precision_score(y, s)))


def _log_loss(out: Outputs) -> float:
    proba = _probabilities(out)
    y, _ = _labels(out)
    return float(skm.log_loss(y, proba, labels=list(range(out.n_classes))))


def _values(out: Outputs, least: int = 1) -> tuple[np.ndarray, np.ndarray]:
    assert out.y is not None
    y = out.y.astype(np.float64).ravel()
    predicted = out.predicted.astype(np.float64).ravel()
    if len(y) != len(predicted):
        raise Undefined(f"{len(predicted)} predictions for {len(y)} targets")
    if len(y) < least:
        raise Undefined(f"it needs at least {least} rows")
    return y, predicted


def _rmse(out: Outputs) -> float:
    return math.sqrt(_mse(out))


def _mse(out: Outputs) -> float:
    return float(skm.mean_squared_error(*_values(out)))


def _mae(out: Outputs) -> float:
    return float(skm.mean_absolute_error(*_values(out)))


def _r2(out: Outputs) -> float:
    return float(skm.r2_score(*_values(out, least=2)))


def _mape(out: Outputs) -> float:
    return float(skm.mean_absolute_percentage_error(*_values(out)))


def _clusters(out: Outputs) -> tuple[np.ndarray, np.ndarray]:
    """The rows and labels of clustered rows (noise, -1, left out), with 2..n-1 clusters."""
    labels = out.predicted.astype(np.int64).ravel()
    kept = labels != -1
    x, labels = out.x[kept], labels[kept]
    found = len(np.unique(labels))
    if not 2 <= found <= len(labels) - 1:
        raise Undefined(f"it needs 2 to n-1 clusters; the rows fall into {found}")
    return x, labels


def _silhouette(out: Outputs) -> float:
    x, labels = _clusters(out)
    sample = MAX_SILHOUETTE_ROWS if len(x) > MAX_SILHOUETTE_ROWS else None
    return float(skm.silhouette_score(x, labels, sample_size=sample, random_state=out.seed % 2**32))


def _davies_bouldin(out: Outputs) -> float:
    return float(skm.davies_bouldin_score(*_clusters(out)))


def _calinski_harabasz(out: Outputs) -> float:
    return float(skm.calinski_harabasz_score(*_clusters(out)))


def _centred(x: np.ndarray, projected: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    if len(x) < 2:
        raise Undefined("it needs at least 2 rows")
    xc = x.reshape(len(x), -1).astype(np.float64)
    xc = xc - xc.mean(axis=0)
    zc = projected.reshape(len(projected), -1).astype(np.float64)
    zc = zc - zc.mean(axis=0)
    total = float((xc**2).sum())
    if total <= 0:
        raise Undefined("the rows have no variance")
    return xc, zc, total


def explained_variance_ratios(x: np.ndarray, projected: np.ndarray) -> np.ndarray:
    """Per component: the share of the rows' variance a linear fit on that component alone
    explains. On the rows a PCA was fitted on this is its explained-variance ratio, whitened or
    not (a fit does not care about the components' scale)."""
    xc, zc, total = _centred(x, projected)
    norms = (zc**2).sum(axis=0)
    covariance = xc.T @ zc  # features x components
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = (covariance**2).sum(axis=0) / (norms * total)
    return np.where(norms > 0, ratios, 0.0)


def _explained_variance(out: Outputs) -> float:
    """The share of the rows' variance a linear reconstruction from the components explains."""
    xc, zc, total = _centred(out.x, out.predicted)
    coefficients = np.linalg.lstsq(zc, xc, rcond=None)[0]
    residual = float(((xc - zc @ coefficients) ** 2).sum())
    return 1.0 - residual / total


METRIC_FUNCTIONS: Mapping[str, Callable[[Outputs], float]] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "roc_auc": _roc_auc,
    "average_precision": _average_precision,
    "log_loss": _log_loss,
    "rmse": _rmse,
    "mse": _mse,
    "mae": _mae,
    "r2": _r2,
    "mape": _mape,
    "silhouette": _silhouette,
    "davies_bouldin": _davies_bouldin,
    "calinski_harabasz": _calinski_harabasz,
    "explained_variance": _explained_variance,
}
