"""A recipe's steps applied to a view: each step a new view over the previous one.

Steps are lazy views except for the first passes some of them need over their input (the value
that does not cast, the fill values, the outlier bounds), which run here as aggregate queries.
Every output keeps the row column first and its rows in ascending row-column order. Every error
is INVALID_ARGUMENT and names the step ("step 3 (cast): ...").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import ViewNames
from services.ingest.engine.steps_base import StepContext
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

STEPS: dict[str, Callable[[StepContext, str, Any], str]] = {
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


def apply_steps(
    con: duckdb.DuckDBPyConnection,
    view: str,
    steps: Sequence[pb.Step],
    sources: Mapping[str, str],
    prefix: str,
) -> StepsResult:
    """Apply `steps` in order to `view`; `sources` maps aliases to views for join and union."""
    ctx = StepContext(con=con, names=ViewNames(prefix), sources=sources)
    ctx.columns(view)  # the input must start with the row column
    for index, step in enumerate(steps, start=1):
        kind = step.WhichOneof("kind")
        if kind is None:
            raise InvalidArgument(f"step {index} has no kind: set one of {', '.join(STEPS)}")
        ctx.index, ctx.kind = index, kind
        view = STEPS[kind](ctx, view, getattr(step, kind))
    return StepsResult(view=view, warnings=ctx.warnings, outlier_bounds=ctx.outlier_bounds)
