"""A recipe's steps applied to a view: each step a new view over the previous one.

Steps are lazy views except for the first passes some of them need over their input (the value
that does not cast, the fill values, the outlier bounds), which run here as aggregate queries,
shared between steps (and with the input's row count) wherever the values come out the same
(`passes.SharedPasses`), and over a narrow copy of an input that parses a file on every scan
when its first steps need several (`narrow.narrow_passes`). Every output keeps the row column
first and its rows in ascending row-column order. Every error is INVALID_ARGUMENT and names the
step ("step 3 (cast): ...").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import ViewNames
from services.ingest.engine.narrow import narrow_passes
from services.ingest.engine.passes import SharedPasses
from services.ingest.engine.steps_base import Pending, StepContext
from services.ingest.engine.steps_basic import (
    apply_derive,
    apply_filter,
    apply_rename,
    apply_select,
)
from services.ingest.engine.steps_clean import (
    apply_clean_strings,
    apply_drop_duplicates,
    apply_outliers,
)
from services.ingest.engine.steps_combine import apply_join, apply_union
from services.ingest.engine.steps_missing import apply_missing_values
from services.ingest.engine.steps_types import apply_cast, apply_parse_dates

STEPS: dict[str, Callable[[StepContext, str, Any], str | Pending]] = {
    "select": apply_select,
    "rename": apply_rename,
    "cast": apply_cast,
    "parse_dates": apply_parse_dates,
    "drop_duplicates": apply_drop_duplicates,
    "missing_values": apply_missing_values,
    "outliers": apply_outliers,
    "clean_strings": apply_clean_strings,
    "filter": apply_filter,
    "derive": apply_derive,
    "join": apply_join,
    "union": apply_union,
}


@dataclass
class StepsResult:
    view: str
    warnings: list[str]
    outlier_bounds: dict[str, tuple[float, float]]  # column -> (low, high) used by outlier steps
    input_rows: int | None = None  # the input's row count, when asked for


def apply_steps(
    con: duckdb.DuckDBPyConnection,
    view: str,
    steps: Sequence[pb.Step],
    sources: Mapping[str, str],
    prefix: str,
    count_rows: bool = False,
    costly_scans: bool = False,
) -> StepsResult:
    """Apply `steps` in order to `view`; `sources` maps aliases to views for join and union.

    `count_rows`: also count the input's rows, in a first pass a step makes anyway when one
    can (no step before it changed the rows), else in a pass of its own. `costly_scans`: the
    input parses its file on every scan, so the first steps' passes may run on a narrow copy."""
    ctx = StepContext(con=con, names=ViewNames(prefix), sources=sources)
    ctx.columns(view)  # the input must start with the row column
    narrow = narrow_passes(ctx, view, steps, STEPS, count_rows) if costly_scans else None
    given, rows = (narrow.values, narrow.rows) if narrow else (None, None)
    passes = SharedPasses(ctx, steps, STEPS, count_rows, given, rows)
    result = view
    for index, step in enumerate(steps, start=1):
        kind = step.WhichOneof("kind")
        if kind is None:
            raise InvalidArgument(f"step {index} has no kind: set one of {', '.join(STEPS)}")
        ctx.index, ctx.kind = index, kind
        result = passes.step(index, kind, result, getattr(step, kind))
    return StepsResult(
        view=result,
        warnings=ctx.warnings,
        outlier_bounds=ctx.outlier_bounds,
        input_rows=passes.count(view),
    )
