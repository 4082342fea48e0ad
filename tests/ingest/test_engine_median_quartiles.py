"""A median fill then IQR bounds on a CSV's narrow copy, in one pass: the same fill values,
bounds and rows, to the bit, as the two passes of the steps themselves. On scikit-learn's wine
data with holes punched at random, as floats (with NaN and empty cells) and as integers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import median_quartiles
from services.ingest.engine.recipe import StepsResult, apply_steps
from services.ingest.engine.steps_base import StepContext
from tests.ingest.engine_fixtures import engine, step, wine
from tests.ingest.engine_io_fixtures import read, rows

MEDIAN = pb.MissingValueStrategy.MISSING_VALUE_STRATEGY_FILL_MEDIAN


def median(*columns: str) -> pb.Step:
    return step(missing_values=pb.MissingValuesStep(columns=list(columns), strategy=MEDIAN))


def iqr(*columns: str, action: int = pb.OUTLIER_ACTION_CLIP) -> pb.Step:
    return step(outliers=pb.OutliersStep(columns=list(columns), action=action))


def _recipe(tmp_path: Path, frame: pd.DataFrame, steps: list[pb.Step], fused: bool):
    """The steps over the frame written as CSV and read lazily (so the narrow copy is used)."""
    folder = tmp_path / ("fused" if fused else "apart")
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "data.csv", index=False)
    con = engine(folder)
    try:
        source = read(con, folder / "data.csv")
        assert not source.loaded
        result = apply_steps(con, source.view, steps, {}, "r", costly_scans=True)
        return result, rows(con, result.view)
    finally:
        con.close()


def _both(tmp_path, monkeypatch, frame, steps) -> tuple[StepsResult, pd.DataFrame, int]:
    """Fused and apart results compared; returns the fused ones and how often it fused."""
    served: list[object] = []
    original = median_quartiles.fused_values

    def counting(*args, **kwargs):
        values = original(*args, **kwargs)
        served.append(values)
        return values

    monkeypatch.setattr("services.ingest.engine.narrow.fused_values", counting)
    fused, fused_rows = _recipe(tmp_path, frame, steps, fused=True)
    monkeypatch.setattr("services.ingest.engine.narrow.fused_values", lambda *a, **k: None)
    apart, apart_rows = _recipe(tmp_path, frame, steps, fused=False)
    assert fused.outlier_bounds == apart.outlier_bounds
    assert fused.warnings == apart.warnings
    pd.testing.assert_frame_equal(fused_rows, apart_rows, check_exact=True)
    return fused, fused_rows, sum(values is not None for values in served)


def _holed(seed: int, integers: bool) -> pd.DataFrame:
    """Three wine columns with 0-45% of their values missing (NaN, and empty in the CSV)."""
    rng = np.random.default_rng(seed)
    frame = wine()[["alcohol", "malic_acid", "magnesium"]].copy()
    frame = frame.iloc[: int(rng.integers(3, len(frame) + 1))].reset_index(drop=True)
    if integers:
        frame = (frame * 100).round().astype("Int64")
    for column in frame.columns:
        share = float(rng.uniform(0.0, 0.45))
        frame.loc[rng.random(len(frame)) < share, column] = pd.NA if integers else np.nan
    return frame


@pytest.mark.parametrize("integers", [False, True], ids=["floats", "integers"])
def test_the_fused_pass_gives_what_two_passes_give(tmp_path, monkeypatch, integers):
    fused_runs = 0
    for seed in range(12):
        frame = _holed(seed, integers)
        steps = [median("alcohol", "malic_acid"), iqr("malic_acid")]
        result, data, fused = _both(tmp_path / str(seed), monkeypatch, frame, steps)
        fused_runs += fused
        assert data["malic_acid"].notna().all() and "malic_acid" in result.outlier_bounds
        low, high = result.outlier_bounds["malic_acid"]
        assert data["malic_acid"].between(low, high).all()
    assert fused_runs >= 10  # the rest fell back (too few values, or a quartile in the block)


def test_ties_odd_and_even_counts_and_set_null(tmp_path, monkeypatch):
    frame = wine()[["alcohol", "ash"]].round(0)  # few distinct values: ties at every place
    for size in (40, 41):
        part = frame.iloc[:size].copy()
        part.loc[part.index % 6 == 0, "ash"] = np.nan
        steps = [median("ash"), iqr("ash", action=pb.OUTLIER_ACTION_SET_NULL)]
        _, _, fused = _both(tmp_path / str(size), monkeypatch, part, steps)
        assert fused == 1


def test_one_quantile_pass_instead_of_two(tmp_path, monkeypatch):
    seen: list[str] = []
    original = StepContext.fetch_row

    def recording(self, sql, params=()):
        seen.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(StepContext, "fetch_row", recording)
    frame = _holed(3, integers=False)
    steps = [median("malic_acid"), iqr("malic_acid")]
    _recipe(tmp_path, frame, steps, fused=True)
    scans = [sql for sql in seen if 'FROM "' in sql and ("quantile" in sql or "median(" in sql)]
    assert len(scans) == 1 and "quantile_disc" in scans[0]


@pytest.mark.parametrize(
    "steps",
    [
        [median("alcohol"), iqr("alcohol", "malic_acid")],  # a bound over an unfilled column
        [iqr("alcohol"), median("alcohol"), iqr("alcohol")],  # the fill reads clipped values
        [median("alcohol"), iqr("alcohol", action=pb.OUTLIER_ACTION_CLIP), iqr("alcohol")],
    ],
    ids=["unfilled-column", "changed-before", "second-bounds"],
)
def test_other_shapes_keep_their_own_passes(tmp_path, monkeypatch, steps):
    _, _, fused = _both(tmp_path, monkeypatch, _holed(5, integers=False), steps)
    assert fused == (1 if len(steps) == 3 and steps[0].HasField("missing_values") else 0)


def test_mostly_missing_falls_back(tmp_path, monkeypatch):
    frame = wine()[["alcohol", "malic_acid"]].copy()
    frame.loc[frame.index % 10 < 6, "malic_acid"] = np.nan  # 60% missing
    _, _, fused = _both(tmp_path, monkeypatch, frame, [median("malic_acid"), iqr("malic_acid")])
    assert fused == 0
