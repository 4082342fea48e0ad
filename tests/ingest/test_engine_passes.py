"""Shared first passes: steps' aggregates (and the row count) batched into one scan give the
values step-by-step passes give; a step in between that changes the rows or the columns read
keeps the passes apart. On scikit-learn's iris, with holes punched into two columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine.passes import MAX_SHARED_HOLISTIC
from services.ingest.engine.recipe import apply_steps
from services.ingest.engine.steps_base import StepContext
from tests.ingest.engine_fixtures import engine, frame_view, iris, run, step, table

MISSING = pb.MissingValueStrategy
SEPAL_LENGTH, SEPAL_WIDTH = "sepal length (cm)", "sepal width (cm)"
PETAL_LENGTH, PETAL_WIDTH = "petal length (cm)", "petal width (cm)"
Cast = pb.CastStep.Cast


@pytest.fixture
def con(tmp_path):
    connection = engine(tmp_path)
    yield connection
    connection.close()


@pytest.fixture
def holes() -> pd.DataFrame:
    """Iris with sepal length missing every 5th row and petal width every 7th, species padded."""
    frame = iris()
    frame.loc[frame.index % 5 == 0, SEPAL_LENGTH] = np.nan
    frame.loc[frame.index % 7 == 3, PETAL_WIDTH] = np.nan
    frame["species"] = "  " + frame["species"] + " "
    return frame


@pytest.fixture
def passes(monkeypatch) -> list[str]:
    """The SQL of every first pass over a view (aggregates and row counts), in order."""
    seen: list[str] = []
    original = StepContext.fetch_row

    def recording(self, sql, params=()):
        if 'FROM "' in sql:
            seen.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(StepContext, "fetch_row", recording)
    return seen


def fill(strategy: int, *columns: str) -> pb.Step:
    return step(missing_values=pb.MissingValuesStep(columns=list(columns), strategy=strategy))


def median(*columns: str) -> pb.Step:
    return fill(MISSING.MISSING_VALUE_STRATEGY_FILL_MEDIAN, *columns)


def iqr_clip(*columns: str) -> pb.Step:
    return step(outliers=pb.OutliersStep(columns=list(columns), method=pb.OUTLIER_METHOD_IQR))


def keep_long_petals() -> pb.Step:
    comparison = pb.Comparison(column=PETAL_LENGTH, op=pb.Comparison.OPERATOR_GT)
    comparison.value.number_value = 2.0  # drops every setosa
    return step(filter=pb.FilterStep(keep=pb.Predicate(comparison=comparison)))


def step_by_step(con, view: str, steps: list[pb.Step]):
    """Each step on its own, so each makes its own pass: the reference."""
    warnings: list[str] = []
    bounds: dict[str, tuple[float, float]] = {}
    for one in steps:
        result = run(con, view, one)
        view = result.view
        warnings += result.warnings
        bounds.update(result.outlier_bounds)
    return view, warnings, bounds


def test_one_pass_for_every_step_it_can_serve_same_values_as_step_by_step(con, holes, passes):
    recipe = [
        step(clean_strings=pb.StringCleanStep(columns=["species"], trim=True)),
        median(SEPAL_LENGTH),
        iqr_clip(PETAL_LENGTH),
        step(cast=pb.CastStep(casts=[Cast(column="target", type=common_pb2.DATA_TYPE_FP64)])),
        # after the cast (a new schema) nothing is shared: a pass of its own
        fill(MISSING.MISSING_VALUE_STRATEGY_FILL_MEAN, PETAL_WIDTH),
    ]
    view = frame_view(con, holes)
    shared = apply_steps(con, view, recipe, {}, prefix="t", count_rows=True)
    assert len(passes) == 2 and "count(*)" in passes[0] and "median(" in passes[0]
    assert "quantile_cont(" in passes[0] and "arg_min(" in passes[0] and "avg(" in passes[1]
    assert shared.input_rows == len(holes)
    del passes[:]
    alone, warnings, bounds = step_by_step(con, view, recipe)
    assert len(passes) == 4
    pd.testing.assert_frame_equal(table(con, shared.view), table(con, alone))
    assert (shared.warnings, shared.outlier_bounds) == (warnings, bounds)
    # ... and both are what pandas makes of the recipe
    got = table(con, shared.view)
    assert (
        got[SEPAL_LENGTH].tolist()
        == holes[SEPAL_LENGTH].fillna(holes[SEPAL_LENGTH].median()).tolist()
    )
    q1, q3 = holes[PETAL_LENGTH].quantile([0.25, 0.75])
    assert shared.outlier_bounds[PETAL_LENGTH] == pytest.approx(
        (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)), rel=1e-12
    )
    np.testing.assert_allclose(
        got[PETAL_WIDTH], holes[PETAL_WIDTH].fillna(holes[PETAL_WIDTH].mean()), rtol=1e-12
    )


def test_a_filter_in_between_keeps_the_passes_apart(con, holes, passes):
    recipe = [median(SEPAL_LENGTH), keep_long_petals(), median(PETAL_WIDTH)]
    result = run(con, frame_view(con, holes), *recipe)
    assert len(passes) == 2
    kept = holes[holes[PETAL_LENGTH] > 2.0]
    filled = table(con, result.view)[PETAL_WIDTH]
    expected = kept[PETAL_WIDTH].median()
    assert expected != holes[PETAL_WIDTH].median()  # sharing the first pass would be wrong
    assert filled.tolist() == kept[PETAL_WIDTH].fillna(expected).tolist()


def test_a_step_changing_the_column_read_keeps_the_passes_apart(con, holes, passes):
    result = run(con, frame_view(con, holes), median(SEPAL_LENGTH), iqr_clip(SEPAL_LENGTH))
    assert len(passes) == 2
    filled = holes[SEPAL_LENGTH].fillna(holes[SEPAL_LENGTH].median())
    q1, q3 = filled.quantile([0.25, 0.75])
    assert (q1, q3) != tuple(holes[SEPAL_LENGTH].quantile([0.25, 0.75]))
    assert result.outlier_bounds[SEPAL_LENGTH] == pytest.approx(
        (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)), rel=1e-12
    )


def test_steps_that_change_other_columns_are_shared_across(con, holes, passes):
    """Clipping petal length and filling sepal length leave petal width alone: its fill is
    computed in the first pass, and still comes out as pandas computes it afterwards."""
    recipe = [median(SEPAL_LENGTH), iqr_clip(PETAL_LENGTH), median(PETAL_WIDTH)]
    shared = run(con, frame_view(con, holes), *recipe)
    assert len(passes) == 1
    alone, warnings, bounds = step_by_step(con, frame_view(con, holes, "again"), recipe)
    pd.testing.assert_frame_equal(table(con, shared.view), table(con, alone))
    assert (shared.warnings, shared.outlier_bounds) == (warnings, bounds)


def test_the_row_count_joins_a_pass_only_before_any_row_change(con, holes, passes):
    view = frame_view(con, holes)
    counted = apply_steps(con, view, [median(SEPAL_LENGTH)], {}, "t", count_rows=True)
    assert (counted.input_rows, len(passes)) == (len(holes), 1)
    del passes[:]
    recipe = [keep_long_petals(), median(SEPAL_LENGTH)]
    filtered = apply_steps(con, view, recipe, {}, "t", count_rows=True)
    assert filtered.input_rows == len(holes)  # the input's rows, not the filter's
    assert len(passes) == 2 and passes[1] == f'SELECT count(*) FROM "{view}"'
    del passes[:]
    assert apply_steps(con, view, [], {}, "t", count_rows=True).input_rows == len(holes)
    assert apply_steps(con, view, [median(SEPAL_LENGTH)], {}, "t").input_rows is None
    assert len(passes) == 2


def test_holistic_aggregates_per_pass_are_bounded(con, holes, passes):
    columns = [SEPAL_LENGTH, SEPAL_WIDTH, PETAL_LENGTH, PETAL_WIDTH]
    assert len(columns) == MAX_SHARED_HOLISTIC
    zscore = step(outliers=pb.OutliersStep(columns=["target"], method=pb.OUTLIER_METHOD_ZSCORE))
    run(con, frame_view(con, holes), median(*columns), zscore)
    assert len(passes) == 1  # mean and std hold no values: they share
    del passes[:]
    run(con, frame_view(con, holes, "again"), median(*columns), iqr_clip("target"))
    assert len(passes) == 2  # a fifth column of values would not


def test_errors_come_in_step_order(con, holes):
    view = frame_view(con, holes)
    bad_cast = step(
        cast=pb.CastStep(casts=[Cast(column="species", type=common_pb2.DATA_TYPE_INT64)])
    )
    with pytest.raises(InvalidArgument) as caught:
        run(con, view, bad_cast, median(SEPAL_LENGTH), iqr_clip("colour"))
    assert caught.value.message.startswith("step 1 (cast): column 'species' value '  setosa '")
    with pytest.raises(InvalidArgument) as caught:
        run(con, view, median(SEPAL_LENGTH), iqr_clip("colour"))
    assert caught.value.message.startswith("step 2 (outliers): columns: unknown column 'colour'")


def test_parse_dates_checks_share_a_pass_and_still_fail_on_the_first_bad_value(con, passes):
    frame = iris()
    frame["seen"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.index, unit="D")
    frame["seen"] = frame["seen"].dt.strftime("%d/%m/%Y")
    frame.loc[[40, 90], "seen"] = "not a date"
    view = frame_view(con, frame)
    parse = pb.ParseDatesStep(columns=["seen"], format="%d/%m/%Y", type=common_pb2.DATA_TYPE_DATE)
    with pytest.raises(InvalidArgument) as caught:
        run(con, view, median(SEPAL_LENGTH), step(parse_dates=parse))
    assert len(passes) == 1
    assert "value 'not a date' does not cast to DATE (format '%d/%m/%Y') (first of 2" in (
        caught.value.message
    )
    assert caught.value.message.startswith("step 2 (parse_dates)")
    frame.loc[[40, 90], "seen"] = "01/01/2024"
    parsed = run(
        con, frame_view(con, frame, "fixed"), median(SEPAL_LENGTH), step(parse_dates=parse)
    )
    got = table(con, parsed.view)["seen"]
    assert got.tolist() == pd.to_datetime(frame["seen"], format="%d/%m/%Y").tolist()
