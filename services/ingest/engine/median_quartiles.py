"""A median fill followed by IQR outlier bounds on the same columns, in one pass instead of two.

Filling a column's missing values with its median M puts m copies of M in the middle of the n
sorted valid values. The filled column's value at sorted place k is then min(v[k], M) for every
k up to the median's lower place, and max(v[k - m], M) for every k - m from its upper place on
(v: the valid values sorted). So when fewer than about half the values are missing, the filled
column's quartiles (quantile_cont's linear interpolation between places floor and ceil of
q * (rows - 1)) come from six order statistics of the valid values: two for the median, two for
each quartile. One holistic aggregate gathers the valid values once and returns all six
(`quantile_disc` at place k asks for fraction (k + 0.5) / n), where the two passes gathered them
twice. The fill value is the median cast to the column's type, as the fill binds it, and
quantile_cont over the two fetched values does each interpolation, so both results are the
values the two passes would give, to the bit; the tests compare them.

This needs the counts of rows and valid values before the pass, so it runs only on the narrow
copy (a table), where counting costs a few milliseconds. Any other shape falls back to the
passes of the steps themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import Params, quote_ident
from services.ingest.engine.steps_base import StepContext
from services.ingest.engine.steps_clean import declare_outliers
from services.ingest.engine.steps_missing import declare_missing_values, missing_sql

S = pb.MissingValueStrategy


@dataclass(frozen=True)
class _Places:
    """Places (0-based) among a column's n sorted valid values, and interpolation weights."""

    median: tuple[int, int]
    first: tuple[int, int] | None = None  # the lower quartile's two places, when bounded
    third: tuple[int, int] | None = None
    first_weight: float = 0.0
    third_weight: float = 0.0

    def all(self) -> list[int]:
        places = list(self.median)
        for pair in (self.first, self.third):
            if pair is not None:
                places.extend(pair)
        return places


def _places(valid: int, rows: int, quartiles: bool) -> _Places | None:
    """The places to read, or None when too many values are missing for the quartiles to sit
    on either side of the filled block."""
    half = (valid - 1) * 0.5
    median = (math.floor(half), math.ceil(half))
    if not quartiles:
        return _Places(median)
    missing = rows - valid
    lower, upper = (rows - 1) * 0.25, (rows - 1) * 0.75  # as quantile_cont computes them
    first = (math.floor(lower), math.ceil(lower))
    third = (math.floor(upper) - missing, math.ceil(upper) - missing)
    if first[1] > median[0] or third[0] < median[1]:
        return None
    return _Places(median, first, third, lower - first[0], upper - math.floor(upper))


def fused_values(
    ctx: StepContext, view: str, steps: Sequence[pb.Step], changes: Sequence[frozenset[str] | None]
) -> dict[int, Sequence[object]] | None:
    """Step index (1-based) -> the values its own pass would give, for the first FILL_MEDIAN
    step and the first IQR outliers step after it over some of its columns; None when the steps
    do not have that shape. `changes[i]` holds the columns step i + 1 changes (None: unknown).
    `view` is a table's view, the input of `steps`."""
    found = _shape(steps, changes)
    if found is None:
        return None
    fill_index, outlier_index = found
    fill_step, outlier_step = steps[fill_index - 1], steps[outlier_index - 1]
    scratch = StepContext(con=ctx.con, names=ctx.names, sources=ctx.sources)
    try:
        fill = declare_missing_values(scratch, view, fill_step.missing_values)
        outliers = declare_outliers(scratch, view, outlier_step.outliers)
    except InvalidArgument:
        return None  # each step fails in its own turn, with its own message
    if fill is None or outliers is None or not outliers.reads <= fill.reads:
        return None
    if scratch.warnings or _between_changes(changes, fill_index, outlier_index, outliers.reads):
        return None
    columns = ctx.columns(view)
    filled = list(fill_step.missing_values.columns)
    clipped = list(outlier_step.outliers.columns)
    computed = _computed(ctx, view, columns, filled, set(clipped))
    if computed is None:
        return None
    medians, quartiles = computed
    return {
        fill_index: [medians[name] for name in filled],
        outlier_index: [quartiles[name] for name in clipped],
    }


def _shape(
    steps: Sequence[pb.Step], changes: Sequence[frozenset[str] | None]
) -> tuple[int, int] | None:
    """(fill, outliers) step indexes: a FILL_MEDIAN naming its columns, no step before it
    changing them, then an IQR step naming columns."""
    for index, step in enumerate(steps, start=1):
        if step.WhichOneof("kind") != "missing_values":
            continue
        fill = step.missing_values
        if fill.strategy != S.MISSING_VALUE_STRATEGY_FILL_MEDIAN or not fill.columns:
            return None
        before = changes[: index - 1]
        if any(change is None or change & set(fill.columns) for change in before):
            return None
        for later, other in enumerate(steps[index:], start=index + 1):
            if other.WhichOneof("kind") == "outliers":
                method = other.outliers.method or pb.OUTLIER_METHOD_IQR
                if method != pb.OUTLIER_METHOD_IQR or not other.outliers.columns:
                    return None
                return index, later
        return None
    return None


def _between_changes(
    changes: Sequence[frozenset[str] | None], fill: int, outliers: int, reads: frozenset[str]
) -> bool:
    """Whether a step between the two changes a column the outliers step reads."""
    return any(change is None or change & reads for change in changes[fill : outliers - 1])


def _computed(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    filled: list[str],
    clipped: set[str],
) -> tuple[dict[str, object], dict[str, list[float]]] | None:
    """Medians of `filled` and quartiles of `clipped` once filled; None when any column is
    unfit (no valid value, too many missing, an infinite value among those read)."""
    valid = [f"count(*) FILTER (WHERE NOT {missing_sql(n, columns[n])})" for n in filled]
    counted = ctx.fetch_row(f"SELECT count(*), {', '.join(valid)} FROM {quote_ident(view)}")
    rows, *counts = (int(value) for value in counted if isinstance(value, int))
    places: dict[str, _Places] = {}
    selected: list[str] = []
    for name, count in zip(filled, counts, strict=True):
        found = _places(count, rows, name in clipped) if count else None
        if found is None:
            return None
        places[name] = found
        fractions = ", ".join(repr((place + 0.5) / count) for place in found.all())
        selected.append(
            f"quantile_disc(CAST({quote_ident(name)} AS DOUBLE), [{fractions}]) "
            f"FILTER (WHERE NOT {missing_sql(name, columns[name])})"
        )
    statistics = ctx.fetch_row(f"SELECT {', '.join(selected)} FROM {quote_ident(view)}")
    medians: dict[str, object] = {}
    quartiles: dict[str, list[float]] = {}
    for name, values in zip(filled, statistics, strict=True):
        assert isinstance(values, list)
        if not all(isinstance(v, float) and math.isfinite(v) for v in values):
            return None
        found = places[name]
        median, fill = _median_and_fill(ctx, values[0], values[1], columns[name], found)
        medians[name] = median
        if name in clipped:
            quartiles[name] = _quartiles(ctx, values[2:], fill, found)
    return medians, quartiles


def _interpolated(
    params: Params,
    values: tuple[float, float],
    places: tuple[int, int],
    weight: float,
    around: str = "{}",
) -> str:
    """quantile_cont's value between two places (the lower one when they are the same), each
    value put in place of the `{}` of `around` first. quantile_cont itself interpolates the two
    values (at fraction `weight` of two values, its weight is `weight`): how a build rounds
    that arithmetic (fused multiply-add or not) is then the build's own."""
    low = around.format(f"CAST({params.bind(values[0])} AS DOUBLE)")
    if places[0] == places[1]:
        return low
    high = around.format(f"CAST({params.bind(values[1])} AS DOUBLE)")
    fraction = f"CAST('{weight!r}' AS DOUBLE)"
    return f"(SELECT quantile_cont(v, {fraction}) FROM (VALUES ({low}), ({high})) AS pair(v))"


def _median_and_fill(
    ctx: StepContext, low: float, high: float, type_name: str, places: _Places
) -> tuple[float, float]:
    """The median as `median()` gives it, and the fill value as the filled column holds it."""
    params = Params()
    median = _interpolated(params, (low, high), places.median, 0.5)
    row = ctx.fetch_row(
        f"SELECT {median}, CAST(CAST({median} AS {type_name}) AS DOUBLE)", params.values
    )
    return _float(row[0]), _float(row[1])


def _quartiles(
    ctx: StepContext, values: Sequence[float], fill: float, places: _Places
) -> list[float]:
    """[first, third] quartile of the filled column from the valid values at their places."""
    assert places.first is not None and places.third is not None
    params = Params()
    bound = f"CAST({params.bind(fill)} AS DOUBLE)"
    # Below the filled block a value is min(valid value, fill); above it, max(valid value, fill).
    first, third = (
        _interpolated(params, pair, at, weight, f"{side}({{}}, {bound})")
        for pair, at, weight, side in (
            ((values[0], values[1]), places.first, places.first_weight, "least"),
            ((values[2], values[3]), places.third, places.third_weight, "greatest"),
        )
    )
    row = ctx.fetch_row(f"SELECT {first}, {third}", params.values)
    return [_float(row[0]), _float(row[1])]


def _float(value: object) -> float:
    assert isinstance(value, float)
    return value
