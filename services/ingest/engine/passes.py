"""Shared first passes: the aggregates recipe steps need over their inputs, batched into one scan.

A step that needs a first pass over its input (a fill value, outlier bounds, the first value that
does not cast) returns a `Pending`. When one does, the planner looks ahead for later steps whose
aggregates give the same values on this input as on their own: every step in between keeps the
rows (in order) and the names and types of the columns, and changes none of the columns those
aggregates read (`Effect`). Their aggregates, and the input's row count while no step before has
changed the rows, are computed in the same SELECT; each step then makes its view when its turn
comes, from values identical to those a pass of its own would give. A CSV read lazily is parsed
once for all of them instead of once per step.

Looking ahead only validates steps and writes SQL (it runs nothing over the data); a later step
that fails its checks there is left to fail in its turn, so errors come in step order as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import Params, quote_ident
from services.ingest.engine.steps_base import BARRIER, Effect, Pending, StepContext
from services.ingest.engine.steps_clean import (
    clean_strings_effect,
    declare_outliers,
    outliers_effect,
)
from services.ingest.engine.steps_missing import declare_missing_values, missing_values_effect
from services.ingest.engine.steps_types import apply_cast, apply_parse_dates

Apply = Callable[[StepContext, str, Any], str | Pending]
# Aggregates that hold every value of their column (median, exact quantiles) one pass may share:
# more steps' worth would hold that many columns in memory at once.
MAX_SHARED_HOLISTIC = 4
_DROP_ROW = pb.CAST_ERROR_POLICY_DROP_ROW


def _failing_only(apply: Apply) -> Callable[[StepContext, str, Any], Pending | None]:
    """A cast or parse_dates step's pass, declared only under the FAIL policy (the others make
    no pass, so looking ahead leaves them to their turn)."""

    def declare(ctx: StepContext, view: str, step: Any) -> Pending | None:
        if step.on_error not in (pb.CAST_ERROR_POLICY_UNSPECIFIED, pb.CAST_ERROR_POLICY_FAIL):
            return None
        result = apply(ctx, view, step)
        return result if isinstance(result, Pending) else None

    return declare


DECLARES: dict[str, Callable[[StepContext, str, Any], Pending | None]] = {
    "missing_values": declare_missing_values,
    "outliers": declare_outliers,
    "cast": _failing_only(apply_cast),
    "parse_dates": _failing_only(apply_parse_dates),
}


def effect_of(kind: str, step: Any, columns: Mapping[str, str]) -> Effect:
    """What the step does to an input with these columns (a BARRIER when not known)."""
    if kind == "clean_strings":
        return clean_strings_effect(step, columns)
    if kind == "missing_values":
        return missing_values_effect(step, columns)
    if kind == "outliers":
        return outliers_effect(step, columns)
    if kind in ("select", "rename", "derive"):
        return Effect(keeps_rows=True, changes=None)
    if kind in ("cast", "parse_dates"):
        return Effect(keeps_rows=step.on_error != _DROP_ROW, changes=None)
    return BARRIER  # filter, drop_duplicates, join, union: other rows


@dataclass
class _Member:
    index: int
    pending: Pending
    warnings: list[str]
    values: Sequence[object] = ()


class SharedPasses:
    """Runs a recipe's steps one by one, sharing their first passes (see the module's doc).

    `given` holds values already computed for some steps (by step index) and `rows` the input's
    row count, if known: those make no pass. `recorded` collects every step's values."""

    def __init__(
        self,
        ctx: StepContext,
        steps: Sequence[pb.Step],
        apply: Mapping[str, Apply],
        count: bool,
        given: Mapping[int, Sequence[object]] | None = None,
        rows: int | None = None,
    ) -> None:
        self.ctx, self.steps, self.apply = ctx, steps, apply
        self.rows = rows
        self.recorded: dict[int, Sequence[object]] = {}
        self._count = count
        self._given = given or {}
        self._rows_kept = True  # no step so far changed the input's rows
        self._ready: dict[int, _Member] = {}

    def step(self, index: int, kind: str, view: str, message: Any) -> str:
        """Step `index` (1-based) over its input `view`; ctx.index and ctx.kind name it."""
        keeps_rows = effect_of(kind, message, {}).keeps_rows  # never depends on the columns
        member = self._ready.pop(index, None)
        if member is not None:
            self.ctx.warnings.extend(member.warnings)
            result = member.pending.finish(self.ctx, view, member.values)
            self.recorded[index] = member.values
        else:
            applied = self.apply[kind](self.ctx, view, message)
            if isinstance(applied, Pending):
                values = self._given.get(index)
                if values is None:
                    first = _Member(index, applied, [])
                    later = self._look_ahead(index, kind, view, message, applied.holistic)
                    self._run(view, [first, *later])
                    values = first.values
                self.recorded[index] = values
                applied = applied.finish(self.ctx, view, values)
            result = applied
        self._rows_kept = self._rows_kept and keeps_rows
        return result

    def count(self, view: str) -> int | None:
        """The input's rows, counted now if no shared pass counted them (None: not asked)."""
        if self._count and self.rows is None:
            rows = self.ctx.fetch_row(f"SELECT count(*) FROM {quote_ident(view)}")[0]
            assert isinstance(rows, int)
            self.rows = rows
        return self.rows

    def _look_ahead(
        self, index: int, kind: str, base: str, message: Any, holistic: int
    ) -> list[_Member]:
        """The later steps whose aggregates may be computed on `base`, step `index`'s input,
        which makes `holistic` such aggregates itself."""
        columns = self.ctx.columns(base)
        effect = effect_of(kind, message, columns)
        changed: set[str] = set()
        members: list[_Member] = []
        for later, step in enumerate(self.steps[index:], start=index + 1):
            if effect.changes is None or not effect.keeps_rows:
                break
            changed |= effect.changes
            later_kind = step.WhichOneof("kind")
            if later_kind is None:
                break
            message = getattr(step, later_kind)
            declare = DECLARES.get(later_kind)
            known = later in self._ready or later in self._given
            if declare is not None and not known:
                scratch = replace(
                    self.ctx, warnings=[], outlier_bounds={}, index=later, kind=later_kind
                )
                try:
                    pending = declare(scratch, base, message)
                except InvalidArgument:
                    break  # it fails in its turn, after the steps before it
                fits = holistic + (pending.holistic if pending else 0) <= MAX_SHARED_HOLISTIC
                if pending is not None and fits and not pending.reads & changed:
                    members.append(_Member(later, pending, scratch.warnings))
                    holistic += pending.holistic
            effect = effect_of(later_kind, message, columns)
        return members

    def _run(self, base: str, members: list[_Member]) -> None:
        """One SELECT over `base` for every member's aggregates (and the row count)."""
        params = Params()
        counted = self._count and self.rows is None and self._rows_kept
        selected = ["count(*)"] if counted else []
        spans = []
        for member in members:
            aggregates = member.pending.aggregates(params)
            spans.append(len(aggregates))
            selected.extend(aggregates)
        row = self.ctx.fetch_row(
            f"SELECT {', '.join(selected)} FROM {quote_ident(base)}", params.values
        )
        if counted:
            rows, row = row[0], row[1:]
            assert isinstance(rows, int)
            self.rows = rows
        for member, span in zip(members, spans, strict=True):
            member.values, row = row[:span], row[span:]
            if member is not members[0]:
                self._ready[member.index] = member
