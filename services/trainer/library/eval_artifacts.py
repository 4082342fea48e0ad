"""The documents an evaluation stores beside its metrics (all JSON-serialisable): confusion matrix,
ROC and precision-recall curve points, feature importance, predicted against actual values,
cluster sizes, explained variance per component."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from services.trainer.library.base import Task
from services.trainer.library.eval_metrics import Outputs, Undefined, explained_variance_ratios
from services.trainer.library.model import FittedModel

# Curves and scatter plots are thinned to this many points.
MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 200
# Permutation importance: at most this many predicted rows in all (rows x features x repeats),
# rows, and features.
PERMUTATION_BUDGET = 300_000
PERMUTATION_MAX_ROWS = 1000
PERMUTATION_MAX_FEATURES = 500
PERMUTATION_REPEATS = 3


def task_artifacts(model: FittedModel, out: Outputs, warnings: list[str]) -> dict[str, Any]:
    """The artifacts of ``out``'s task; what cannot be made is named in ``warnings``."""
    task = out.task
    documents: dict[str, Any] = {}
    if task.classifies:
        documents.update(_classification(model, out))
    elif task in (Task.REGRESSION, Task.FORECASTING):
        documents.update(_regression(out))
    elif task is Task.CLUSTERING:
        documents.update(_clustering(out))
    else:
        try:
            ratios = explained_variance_ratios(out.x, out.predicted)
        except Undefined as exc:
            warnings.append(f"explained variance per component was not computed: {exc}")
        else:
            documents["explained_variance_ratio"] = _floats(ratios)
            documents["cumulative_explained_variance_ratio"] = _floats(np.cumsum(ratios))
    if task.supervised:
        importance = feature_importance(model, out, warnings)
        if importance is not None:
            documents["feature_importance_method"], documents["feature_importance"] = importance
    return documents


# ---------------------------------------------------------------------------------------------
# Classification


def _classification(model: FittedModel, out: Outputs) -> dict[str, Any]:
    assert out.y is not None
    y = out.y.astype(np.int64)
    predicted = out.predicted.astype(np.int64)
    labels = [_plain(c) for c in model.classes]
    indices = list(range(out.n_classes))
    documents: dict[str, Any] = {
        "confusion_matrix": {
            "labels": labels,
            "matrix": skm.confusion_matrix(y, predicted, labels=indices).tolist(),
        }
    }
    if out.proba is None:
        return documents
    # Binary: the curve of the second class; multiclass: one per class, one-vs-rest.
    positives = [1] if out.n_classes == 2 else indices
    roc, pr = [], []
    for c in positives:
        truth = (y == c).astype(np.int64)
        if not 0 < truth.sum() < len(truth):
            continue
        score = out.proba[:, c]
        fpr, tpr, thresholds = skm.roc_curve(truth, score)
        keep = _thin(len(fpr))
        roc.append(
            {
                "label": labels[c],
                "auc": float(skm.roc_auc_score(truth, score)),
                "fpr": _floats(fpr[keep]),
                "tpr": _floats(tpr[keep]),
                "thresholds": _floats(thresholds[keep]),
            }
        )
        precision, recall, pr_thresholds = skm.precision_recall_curve(truth, score)
        # The last point (recall 0, precision 1) has no threshold.
        pr_thresholds = np.append(pr_thresholds, np.nan)
        keep = _thin(len(precision))
        pr.append(
            {
                "label": labels[c],
                "average_precision": float(skm.average_precision_score(truth, score)),
                "precision": _floats(precision[keep]),
                "recall": _floats(recall[keep]),
                "thresholds": _floats(pr_thresholds[keep]),
            }
        )
    if roc:
        documents["roc_curve"] = roc
        documents["pr_curve"] = pr
    return documents


# ---------------------------------------------------------------------------------------------
# Regression and forecasting


def _regression(out: Outputs) -> dict[str, Any]:
    assert out.y is not None
    actual = out.y.astype(np.float64).reshape(len(out.y), -1)
    predicted = out.predicted.astype(np.float64).reshape(actual.shape)
    residuals = (actual - predicted).ravel()
    keep = _thin(len(actual), MAX_SCATTER_POINTS)
    documents: dict[str, Any] = {
        "predicted_vs_actual": {
            "actual": _floats(actual[keep, 0]),
            "predicted": _floats(predicted[keep, 0]),
        },
        "residuals": {
            "mean": float(residuals.mean()),
            "std": float(residuals.std()),
            "quantiles": dict(
                zip(
                    ("p05", "p25", "p50", "p75", "p95"),
                    _floats(np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])),
                    strict=True,
                )
            ),
        },
    }
    if actual.shape[1] > 1:
        documents["rmse_by_horizon"] = _floats(np.sqrt(((actual - predicted) ** 2).mean(axis=0)))
    return documents


# ---------------------------------------------------------------------------------------------
# Clustering


def _clustering(out: Outputs) -> dict[str, Any]:
    labels, sizes = np.unique(out.predicted.astype(np.int64).ravel(), return_counts=True)
    clustered = labels != -1
    return {
        "cluster_sizes": {
            "labels": labels[clustered].tolist(),
            "sizes": sizes[clustered].tolist(),
        },
        "noise_rows": int(sizes[~clustered].sum()),
    }


# ---------------------------------------------------------------------------------------------
# Feature importance


def feature_importance(
    model: FittedModel, out: Outputs, warnings: list[str]
) -> tuple[str, list[dict[str, Any]]] | None:
    """("model", the learner's own importances) or ("permutation", the mean drop of the score
    when one feature's values are shuffled across the rows), sorted, most important first."""
    names = model.feature_names
    own = model.learner.feature_importance()
    if own is not None:
        weights = np.asarray(own, dtype=np.float64).ravel()
        if len(weights) == len(names):
            order = np.argsort(-weights, kind="stable")
            return "model", [
                {"feature": names[i], "importance": _finite(weights[i])} for i in order
            ]
        warnings.append(
            f"the learner gave {len(weights)} feature importances for {len(names)} features; "
            "permutation importance is shown instead"
        )
    return _permutation(model, out, warnings)


def _permutation(
    model: FittedModel, out: Outputs, warnings: list[str]
) -> tuple[str, list[dict[str, Any]]] | None:
    names = model.feature_names
    n_features = out.x.shape[-1]
    if n_features != len(names) or n_features > PERMUTATION_MAX_FEATURES:
        warnings.append(
            f"permutation importance was not computed: {n_features} features "
            f"(at most {PERMUTATION_MAX_FEATURES})"
        )
        return None
    score = _scorer(out)
    if score is None:
        warnings.append("permutation importance was not computed: the targets do not vary")
        return None
    rng = np.random.default_rng(out.seed % 2**32)
    repeats = PERMUTATION_REPEATS if n_features <= 50 else 1
    rows = min(
        len(out.x), PERMUTATION_MAX_ROWS, max(50, PERMUTATION_BUDGET // (n_features * repeats))
    )
    chosen = np.sort(rng.choice(len(out.x), size=rows, replace=False))
    x = out.x[chosen]
    assert out.y is not None
    y = out.y[chosen]
    baseline = score(y, model.learner.predict(x))
    drops = np.empty((n_features, repeats))
    for feature in range(n_features):
        original = x[..., feature].copy()
        for repeat in range(repeats):
            x[..., feature] = original[rng.permutation(rows)]
            drops[feature, repeat] = baseline - score(y, model.learner.predict(x))
        x[..., feature] = original
    mean = drops.mean(axis=1)
    order = np.argsort(-mean, kind="stable")
    return "permutation", [
        {
            "feature": names[i],
            "importance": _finite(mean[i]),
            "std": _finite(drops[i].std()),
        }
        for i in order
    ]


def _scorer(out: Outputs) -> Callable[[np.ndarray, np.ndarray], float] | None:
    """Accuracy for classification; for regression R2 on these rows' variance (so a drop is the
    share of the variance the feature explains)."""
    assert out.y is not None
    if out.task.classifies:
        return lambda y, predicted: float(np.mean(y.ravel() == np.asarray(predicted).ravel()))
    variance = float(np.var(out.y.astype(np.float64)))
    if variance <= 0:
        return None

    def r2(y: np.ndarray, predicted: np.ndarray) -> float:
        errors = y.astype(np.float64).ravel() - np.asarray(predicted, dtype=np.float64).ravel()
        return 1.0 - float(np.mean(errors**2)) / variance

    return r2


# ---------------------------------------------------------------------------------------------
# JSON helpers


def _thin(length: int, points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``points`` indices spread evenly over 0..length-1, the first and last kept."""
    if length <= points:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, points).round().astype(np.int64))


def _floats(values: Sequence[float] | np.ndarray) -> list[float | None]:
    """Rounded plain floats; infinities and NaN (not JSON) become None."""
    return [_finite(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def _finite(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
