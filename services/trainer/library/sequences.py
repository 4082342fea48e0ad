"""Windowing of a time-ordered dataset for the sequence tasks.

Rows arrive in time order (within each series when the dataset holds several; the series may be
interleaved, e.g. sorted by time across all series). A window is ``window`` consecutive rows of
one series; windows never cross a series boundary.

- Forecasting: the window of rows ``[t - window, t)`` has the target ``y[t : t + horizon]``
  (float64, windows x horizon). When predicting, every window ending at a row is returned, so the
  window ending at the last row forecasts the ``horizon`` values after the data.
- Sequence classification: a window's target is the label of its last row; ``horizon`` does not
  apply.

Training windows are spaced ``stride`` rows apart, counted back from the latest window of each
series so the most recent rows are always used. Windows are ordered by the row they end at.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.common.errors import InvalidArgument
from services.trainer.library.base import Task
from services.trainer.library.model import SequenceSettings


def make_windows(
    x: np.ndarray,
    y: np.ndarray | None,
    *,
    task: Task,
    settings: SequenceSettings,
    series: np.ndarray | None,
    predicting: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(windows, targets)``: windows is float32 windows x window x features; targets as the
    module says, or None when predicting."""
    _check(x, y, task, settings, series, predicting)
    window = settings.window
    forecasting = task is Task.FORECASTING
    # Rows after the window that the target needs (forecasting trains on future rows).
    ahead = settings.horizon if forecasting and not predicting else 0
    stride = 1 if predicting else settings.stride
    starts: list[np.ndarray] = []
    for rows in _series_rows(series, len(x)):
        count = len(rows) - window - ahead + 1
        if count <= 0:
            continue
        # Latest window first, then back by stride; ends are positions within ``rows``.
        first = (count - 1) % stride
        offsets = np.arange(first, count, stride)
        starts.append(rows[offsets[:, None] + np.arange(window + ahead)])
    if not starts:
        raise InvalidArgument(_too_few(task, settings, series, len(x), predicting))
    spans = np.concatenate(starts)
    spans = spans[np.argsort(spans[:, window - 1], kind="stable")]
    windows = np.ascontiguousarray(x[spans[:, :window]], dtype=np.float32)
    if predicting or y is None:
        return windows, None
    if forecasting:
        return windows, np.asarray(y, dtype=np.float64)[spans[:, window:]]
    return windows, np.asarray(y)[spans[:, window - 1]]


def _check(
    x: np.ndarray,
    y: np.ndarray | None,
    task: Task,
    settings: SequenceSettings,
    series: np.ndarray | None,
    predicting: bool,
) -> None:
    if not task.sequential:
        raise InvalidArgument(
            f"windowing is for forecasting and sequence_classification, not {task.value}"
        )
    for name in ("window", "horizon", "stride"):
        value = getattr(settings, name)
        if value < 1:
            raise InvalidArgument(f"sequence {name} is {value}: send an integer >= 1")
    if x.ndim != 2:
        raise InvalidArgument(f"windowing needs rows x features, got an array of shape {x.shape}")
    if not predicting and y is None:
        raise InvalidArgument(f"{task.value} needs a target column to make training windows")
    if y is not None and len(y) != len(x):
        raise InvalidArgument(f"{len(x)} feature rows but {len(y)} target values")
    if series is not None and len(series) != len(x):
        raise InvalidArgument(f"{len(x)} feature rows but {len(series)} series ids")


def _series_rows(series: np.ndarray | None, count: int) -> list[np.ndarray]:
    """The row positions of each series, in time (row) order, series by first appearance."""
    if series is None:
        return [np.arange(count)]
    codes, _ = pd.factorize(pd.Series(series, dtype=object), use_na_sentinel=True)
    if (codes < 0).any():
        raise InvalidArgument(
            f"the series id column has {int((codes < 0).sum())} missing values: every row must "
            "name its series"
        )
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds)


def _too_few(
    task: Task, settings: SequenceSettings, series: np.ndarray | None, rows: int, predicting: bool
) -> str:
    needed = settings.window
    what = f"window {settings.window}"
    if task is Task.FORECASTING and not predicting:
        needed += settings.horizon
        what += f" and horizon {settings.horizon}"
    purpose = "a prediction" if predicting else f"a {task.value} training window"
    if series is None:
        have = f"there are {rows}"
    else:
        longest = max((len(r) for r in _series_rows(series, rows)), default=0)
        have = f"the longest series has {longest}"
    return (
        f"{purpose} with {what} needs at least {needed} rows in a series; {have}: send more "
        "rows or a smaller window"
    )
