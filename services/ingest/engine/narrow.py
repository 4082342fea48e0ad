"""First passes on a narrow copy of the input, for an input that parses its file on every scan.

When the recipe's first steps need more than one pass over such an input (a CSV read lazily), the
columns those passes read are copied once into a temporary table, and every pass runs on that
copy instead of parsing the file again. The copy keeps the input's rows in order, the columns the
passes read, and typed NULLs in place of every other column, so each step validates and writes
its SQL exactly as on the input. Only a prefix of steps qualifies: steps that keep the rows and
compute each column from that column alone (clean_strings, FILL_CONSTANT / FILL_MEAN /
FILL_MEDIAN, outliers that clip or set null, cast and parse_dates that drop no row), so every value
a pass reads is the same on the copy as on the input. The values go to the run over the input
(`SharedPasses(given=...)`), which makes no pass for those steps; its messages and warnings come
in step order as without the copy. On the copy, counting is cheap, so a FILL_MEDIAN then IQR
bounds over its columns take one pass instead of two (`median_quartiles`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimass.ingest.v1 import ingest_pb2 as pb
from services.ingest.engine import ROW_COLUMN, create_view, is_scalar_type, quote_ident
from services.ingest.engine.median_quartiles import fused_values
from services.ingest.engine.passes import Apply, SharedPasses, effect_of
from services.ingest.engine.steps_base import StepContext

S = pb.MissingValueStrategy
_PASS_FILLS = frozenset({S.MISSING_VALUE_STRATEGY_FILL_MEAN, S.MISSING_VALUE_STRATEGY_FILL_MEDIAN})
_LOCAL_FILLS = _PASS_FILLS | {S.MISSING_VALUE_STRATEGY_FILL_CONSTANT}
_FAIL = frozenset({pb.CAST_ERROR_POLICY_UNSPECIFIED, pb.CAST_ERROR_POLICY_FAIL})


@dataclass
class NarrowPasses:
    values: dict[int, Sequence[object]]  # step index -> the values of its first pass
    rows: int | None  # the input's row count, when asked for


def narrow_passes(
    ctx: StepContext, view: str, steps: Sequence[pb.Step], apply: Mapping[str, Apply], count: bool
) -> NarrowPasses | None:
    """The first passes' values of the qualifying prefix of `steps`, computed on a narrow copy;
    None when fewer than two steps make a pass or the copy would not be narrower than `view`."""
    prefix = _local_prefix(steps)
    reading = [step for step in prefix if _makes_pass(step)]
    if len(reading) < 2:
        return None
    needed = _reads(reading)
    columns = ctx.columns(view)
    others = [name for name in columns if name not in (needed or ()) and name != ROW_COLUMN]
    if needed is None or not needed <= set(columns) or not others:
        return None
    if not all(is_scalar_type(columns[name]) for name in others):
        return None
    table = ctx.names.next()
    copied = ", ".join(quote_ident(name) for name in columns if name in needed)
    ctx.con.execute(
        f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT {copied} FROM {quote_ident(view)}"
    )
    try:
        return _passes_on(ctx, _copy_view(ctx, table, columns, needed), prefix, apply, count)
    finally:
        ctx.con.execute(f"DROP TABLE {quote_ident(table)}")


def _copy_view(ctx: StepContext, table: str, columns: Mapping[str, str], needed: set[str]) -> str:
    """The copy as the input looks: the row column first (the table's insertion order when no
    pass reads it), the other columns in their places, NULL where not copied."""
    row = quote_ident(ROW_COLUMN)
    selected = [row if ROW_COLUMN in needed else f"rowid AS {row}"]
    for name, type_name in columns.items():
        if name != ROW_COLUMN:
            copied = name in needed
            selected.append(
                quote_ident(name) if copied else f"CAST(NULL AS {type_name}) AS {quote_ident(name)}"
            )
    return create_view(
        ctx.con, ctx.names.next(), f"SELECT {', '.join(selected)} FROM {quote_ident(table)}"
    )


def _passes_on(
    ctx: StepContext, copy: str, prefix: list[pb.Step], apply: Mapping[str, Apply], count: bool
) -> NarrowPasses:
    """The prefix run over the copy, on a context of its own (its views and warnings unused)."""
    scratch = StepContext(con=ctx.con, names=ctx.names, sources=ctx.sources)
    columns = ctx.columns(copy)
    kinds = [str(step.WhichOneof("kind")) for step in prefix]
    changes = [
        effect_of(kind, getattr(step, kind), columns).changes
        for kind, step in zip(kinds, prefix, strict=True)
    ]
    given = fused_values(scratch, copy, prefix, changes)
    passes = SharedPasses(scratch, prefix, apply, count, given=given)
    view = copy
    for index, (kind, step) in enumerate(zip(kinds, prefix, strict=True), start=1):
        scratch.index, scratch.kind = index, kind
        view = passes.step(index, kind, view, getattr(step, kind))
    return NarrowPasses(passes.recorded, passes.count(copy))


def _local_prefix(steps: Sequence[pb.Step]) -> list[pb.Step]:
    """The first steps that keep the rows and compute each column from itself alone."""
    prefix = []
    for step in steps:
        kind = step.WhichOneof("kind")
        message: Any = getattr(step, kind) if kind else None
        local = (
            kind == "clean_strings"
            or (kind == "missing_values" and message.strategy in _LOCAL_FILLS)
            or (kind == "outliers" and message.action != pb.OUTLIER_ACTION_DROP_ROW)
            or (
                kind in ("cast", "parse_dates")
                and message.on_error != pb.CAST_ERROR_POLICY_DROP_ROW
            )
        )
        if not local:
            break
        prefix.append(step)
    return prefix


def _makes_pass(step: pb.Step) -> bool:
    kind = step.WhichOneof("kind")
    if kind == "missing_values":
        return step.missing_values.strategy in _PASS_FILLS
    if kind in ("cast", "parse_dates"):
        return getattr(step, kind).on_error in _FAIL
    return kind == "outliers"


def _reads(steps: list[pb.Step]) -> set[str] | None:
    """The input columns the steps' passes read; None when one names no column (then it reads
    every column of a kind)."""
    needed: set[str] = set()
    for step in steps:
        kind = step.WhichOneof("kind")
        if kind == "cast":
            names = [cast.column for cast in step.cast.casts]
        else:
            names = list(getattr(step, str(kind)).columns)
        if not names:
            return None
        needed.update(names)
        if kind in ("cast", "parse_dates"):
            needed.add(ROW_COLUMN)  # the first value that fails, in row order
    return needed
