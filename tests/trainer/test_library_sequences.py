"""Windowing of time-ordered rows: forecasting and sequence-classification targets, strides,
prediction windows, series boundaries and the errors for settings or data that cannot make a
window. The mechanism tests use row numbers as features so each window shows which rows it holds;
one test windows a real series (statsmodels' co2)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.datasets.co2 as co2

from services.common.errors import InvalidArgument
from services.trainer.library.base import Task
from services.trainer.library.model import SequenceSettings
from services.trainer.library.sequences import make_windows

FORECAST, CLASSIFY = Task.FORECASTING, Task.SEQUENCE_CLASSIFICATION


def rows(count: int, features: int = 2) -> np.ndarray:
    """Row r holds (r, 100 + r, ...): a window's first feature lists its rows."""
    return np.stack([np.arange(count) + 100 * f for f in range(features)], axis=1).astype(
        np.float32
    )


def held(windows: np.ndarray) -> list[list[int]]:
    return windows[:, :, 0].astype(int).tolist()


def test_forecasting_window_predicts_the_rows_after_it() -> None:
    x, y = rows(7), np.arange(7) * 10.0
    windows, targets = make_windows(
        x, y, task=FORECAST, settings=SequenceSettings(3, horizon=2), series=None
    )
    assert windows.dtype == np.float32 and windows.shape == (3, 3, 2)
    assert held(windows) == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert np.array_equal(windows[1, :, 1], [101, 102, 103])  # every feature of each row
    assert targets is not None and targets.dtype == np.float64
    assert targets.tolist() == [[30, 40], [40, 50], [50, 60]]


def test_stride_counts_back_from_the_latest_window() -> None:
    x, y = rows(10), np.arange(10.0)
    windows, targets = make_windows(
        x, y, task=FORECAST, settings=SequenceSettings(3, horizon=1, stride=3), series=None
    )
    # 7 windows fit; every third one, the latest (rows 6..8 -> row 9) always among them.
    assert held(windows) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert targets is not None and targets[:, 0].tolist() == [3, 6, 9]
    windows, _ = make_windows(
        x, y, task=FORECAST, settings=SequenceSettings(3, horizon=1, stride=4), series=None
    )
    assert held(windows) == [[2, 3, 4], [6, 7, 8]]


def test_predicting_returns_every_window_up_to_the_last_row() -> None:
    x = rows(6)
    settings = SequenceSettings(4, horizon=3, stride=5)  # horizon and stride do not apply
    windows, targets = make_windows(
        x, None, task=FORECAST, settings=settings, series=None, predicting=True
    )
    assert targets is None
    assert held(windows) == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    # Four rows are enough for a prediction although training would need seven.
    windows, _ = make_windows(
        x[:4], None, task=FORECAST, settings=settings, series=None, predicting=True
    )
    assert held(windows) == [[0, 1, 2, 3]]


def test_sequence_classification_takes_the_label_of_the_last_row() -> None:
    x, labels = rows(5), np.array([0, 0, 1, 2, 1])
    windows, targets = make_windows(
        x, labels, task=CLASSIFY, settings=SequenceSettings(3, horizon=4), series=None
    )
    assert held(windows) == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert targets is not None and targets.tolist() == [1, 2, 1]
    # The horizon does not apply: a window's worth of rows is enough.
    windows, targets = make_windows(
        x[:3], labels[:3], task=CLASSIFY, settings=SequenceSettings(3, horizon=4), series=None
    )
    assert held(windows) == [[0, 1, 2]] and targets is not None and targets.tolist() == [1]


def test_windows_never_cross_a_series_boundary() -> None:
    # Three series interleaved in time order; "c" is too short for a training window.
    series = np.array(["a", "b", "a", "b", "a", "c", "b", "a", "b", "a"], dtype=object)
    x, y = rows(10), np.arange(10.0)
    windows, targets = make_windows(
        x, y, task=FORECAST, settings=SequenceSettings(2, horizon=1), series=series
    )
    # a: rows 0 2 4 7 9; b: rows 1 3 6 8. Windows in the order of the row they end at.
    assert held(windows) == [[0, 2], [1, 3], [2, 4], [3, 6], [4, 7]]
    assert targets is not None and targets[:, 0].tolist() == [4, 6, 7, 8, 9]
    windows, _ = make_windows(
        x, None, task=FORECAST, settings=SequenceSettings(2), series=series, predicting=True
    )
    assert held(windows) == [[0, 2], [1, 3], [2, 4], [3, 6], [4, 7], [6, 8], [7, 9]]
    # Numeric series ids work the same.
    codes = np.array([{"a": 1, "b": 2, "c": 3}[s] for s in series])
    again, _ = make_windows(
        x, None, task=FORECAST, settings=SequenceSettings(2), series=codes, predicting=True
    )
    assert np.array_equal(again, windows)


def test_too_few_rows_says_how_many_are_needed() -> None:
    x, y = rows(5), np.arange(5.0)
    with pytest.raises(InvalidArgument, match=r"needs at least 6 rows in a series; there are 5"):
        make_windows(x, y, task=FORECAST, settings=SequenceSettings(4, horizon=2), series=None)
    with pytest.raises(InvalidArgument, match=r"at least 6 rows.*longest series has 3"):
        make_windows(
            x,
            y,
            task=FORECAST,
            settings=SequenceSettings(4, horizon=2),
            series=np.array([1, 2, 1, 2, 1]),
        )
    with pytest.raises(InvalidArgument, match=r"a prediction with window 6 needs at least 6"):
        make_windows(
            x, None, task=FORECAST, settings=SequenceSettings(6), series=None, predicting=True
        )
    with pytest.raises(InvalidArgument, match=r"window 6 needs at least 6 rows"):
        make_windows(x, y.astype(int), task=CLASSIFY, settings=SequenceSettings(6), series=None)


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        (SequenceSettings(0), "window"),
        (SequenceSettings(3, horizon=0), "horizon"),
        (SequenceSettings(3, stride=0), "stride"),
        (SequenceSettings(3, stride=-2), "stride"),
    ],
)
def test_settings_below_one_are_refused(settings: SequenceSettings, name: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"sequence {name} is -?\d+: send an integer >= 1"):
        make_windows(rows(20), np.arange(20.0), task=FORECAST, settings=settings, series=None)


def test_inputs_that_make_no_windows_are_refused() -> None:
    x, y, settings = rows(6), np.arange(6.0), SequenceSettings(2)
    with pytest.raises(InvalidArgument, match="not regression"):
        make_windows(x, y, task=Task.REGRESSION, settings=settings, series=None)
    with pytest.raises(InvalidArgument, match="needs a target column"):
        make_windows(x, None, task=FORECAST, settings=settings, series=None)
    with pytest.raises(InvalidArgument, match="6 feature rows but 5 target values"):
        make_windows(x, y[:5], task=FORECAST, settings=settings, series=None)
    with pytest.raises(InvalidArgument, match="6 feature rows but 4 series ids"):
        make_windows(x, y, task=FORECAST, settings=settings, series=np.zeros(4))
    with pytest.raises(InvalidArgument, match="series id column has 1 missing value"):
        series = np.array(["a", "a", None, "a", "a", "a"], dtype=object)
        make_windows(x, y, task=FORECAST, settings=settings, series=series)
    with pytest.raises(InvalidArgument, match="rows x features"):
        make_windows(x[:, 0], y, task=FORECAST, settings=settings, series=None)


def test_windows_of_the_co2_series() -> None:
    level = co2.load_pandas().data["co2"].resample("MS").mean().interpolate().to_numpy()
    x = level[:, None].astype(np.float32)
    windows, targets = make_windows(
        x, level, task=FORECAST, settings=SequenceSettings(12, horizon=3, stride=2), series=None
    )
    fitting = len(level) - 12 - 3 + 1  # windows with a full target; every second one kept
    count = (fitting + 1) // 2
    assert windows.shape == (count, 12, 1) and targets is not None and targets.shape == (count, 3)
    # The latest window: the year before the last three months, which are its target.
    np.testing.assert_array_equal(windows[-1, :, 0], x[-15:-3, 0])
    np.testing.assert_array_equal(targets[-1], level[-3:])
    # Counting back by two from the latest window; each target is the three months after it.
    for index, start in enumerate(range((fitting - 1) % 2, fitting, 2)):
        np.testing.assert_array_equal(windows[index, :, 0], x[start : start + 12, 0])
        np.testing.assert_array_equal(targets[index], level[start + 12 : start + 15])
