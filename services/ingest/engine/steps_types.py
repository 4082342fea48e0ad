"""Type steps: cast columns to a common DataType, parse text into dates or timestamps.

Both follow the step's CastErrorPolicy. FAIL (the default) runs a first pass over the step's input
(a `Pending` aggregate, which the recipe may share with other steps' passes) that finds, per
column, the first value (in row order) that does not convert, and reports it;
NULL turns such values into null; DROP_ROW drops their rows. Parsed timestamps are instants
(TIMESTAMP WITH TIME ZONE, shown in UTC): text without an offset is read in `timezone`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import duckdb

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import (
    ROW_COLUMN,
    Params,
    data_type_name,
    duckdb_type,
    is_string_type,
    quote_ident,
)
from services.ingest.engine.casting import castable_sql
from services.ingest.engine.steps_base import (
    ROW,
    Pending,
    StepContext,
    projection,
    shown_value,
    unique,
)

FAIL = pb.CAST_ERROR_POLICY_FAIL
TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"
_DATE_SOURCES = {"DATE", "TIMESTAMP", TIMESTAMPTZ}
# Text that ends in a time with a UTC offset or Z ("...10:00+02:00", "...10:00Z").
_OFFSET_PATTERN = r":.*([zZ]|[+-]\d{2}(:?\d{2})?)\s*$"
_FIX = "fix the data or use on_error NULL/DROP_ROW"


def error_policy(ctx: StepContext, policy: int) -> int:
    if policy in (pb.CAST_ERROR_POLICY_UNSPECIFIED, FAIL):
        return FAIL
    if policy in (pb.CAST_ERROR_POLICY_NULL, pb.CAST_ERROR_POLICY_DROP_ROW):
        return policy
    raise ctx.error(f"on_error {policy} is not a CastErrorPolicy; use FAIL, NULL or DROP_ROW")


def failure_aggregates(failing: Mapping[str, str]) -> list[str]:
    """Per column: the first value (in row order) on which its condition holds, and how many.

    `failing` maps a column to the SQL condition that is true on its rows that do not convert.
    """
    parts = []
    for column, condition in failing.items():
        shown = f"CAST({quote_ident(column)} AS VARCHAR)"
        parts.append(f"arg_min({shown}, {ROW}) FILTER (WHERE {condition})")
        parts.append(f"count(*) FILTER (WHERE {condition})")
    return parts


def failure_of(columns: Iterable[str], row: Sequence[object]) -> tuple[str, str, int] | None:
    """(column, first failing value as text, how many fail) for the first column with failures,
    from the values of `failure_aggregates` over `columns` (in that order)."""
    for i, column in enumerate(columns):
        count = row[2 * i + 1]
        if isinstance(count, int) and count > 0:
            return column, str(row[2 * i]), count
    return None


def first_failure(
    ctx: StepContext, view: str, failing: Mapping[str, str], params: Sequence[object] = ()
) -> tuple[str, str, int] | None:
    """`failure_of` the failing conditions, in one aggregate pass over the view now."""
    if not failing:
        return None
    parts = failure_aggregates(failing)
    return failure_of(
        failing, ctx.fetch_row(f"SELECT {', '.join(parts)} FROM {quote_ident(view)}", params)
    )


def _fail_message(column: str, value: str, count: int, target: str) -> str:
    more = f" (first of {count} such values)" if count > 1 else ""
    return f"column {column!r} value {shown_value(value)} does not cast to {target}{more}; {_FIX}"


def _finish(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    converted: Mapping[str, str],
    ok: Mapping[str, str],
    policy: int,
    params: Sequence[object] = (),
) -> str:
    """The step's view: converted columns in place, rows dropped under DROP_ROW."""
    where = ""
    if policy == pb.CAST_ERROR_POLICY_DROP_ROW:
        conditions = [f"({quote_ident(name)} IS NULL OR {ok[name]})" for name in converted]
        where = " WHERE " + " AND ".join(conditions)
    sql = f"SELECT {projection(columns, converted)} FROM {quote_ident(view)}{where}"
    return ctx.view(sql, params)


def apply_cast(ctx: StepContext, view: str, step: pb.CastStep) -> str | Pending:
    columns = ctx.columns(view)
    if not step.casts:
        raise ctx.error("casts is empty: give each column and the type to cast it to")
    unique([cast.column for cast in step.casts], ctx, "casts")
    ctx.require(columns, [cast.column for cast in step.casts], "casts")
    policy = error_policy(ctx, step.on_error)
    targets: dict[str, str] = {}
    shown: dict[str, str] = {}
    for cast in step.casts:
        if cast.type == common_pb2.DATA_TYPE_UNSPECIFIED:
            raise ctx.error(f"column {cast.column!r} has no type: set casts[].type")
        try:
            targets[cast.column] = duckdb_type(cast.type)
        except InvalidArgument as exc:
            raise ctx.error(exc.message) from None
        shown[cast.column] = data_type_name(cast.type)
    ok = {
        name: castable_sql(quote_ident(name), columns[name], target)
        for name, target in targets.items()
    }
    converted = {
        name: f"CAST({quote_ident(name)} AS {target})"
        if policy == FAIL
        else f"(CASE WHEN {ok[name]} THEN TRY_CAST({quote_ident(name)} AS {target}) END)"
        for name, target in targets.items()
    }
    failing = {
        name: f"{quote_ident(name)} IS NOT NULL AND NOT {ok[name]}"
        for name, target in targets.items()
        if policy == FAIL and columns[name] != target and target != "VARCHAR"
    }
    if not failing:
        return _finish(ctx, view, columns, converted, ok, policy)

    def finish(ctx: StepContext, view: str, row: Sequence[object]) -> str:
        failure = failure_of(failing, row)
        if failure is not None:
            raise ctx.error(_fail_message(*failure, shown[failure[0]]))
        return _finish(ctx, view, columns, converted, ok, policy)

    parts = failure_aggregates(failing)
    return Pending(lambda _params: parts, frozenset([*failing, ROW_COLUMN]), finish)


def apply_parse_dates(ctx: StepContext, view: str, step: pb.ParseDatesStep) -> str | Pending:
    columns = ctx.columns(view)
    if not step.columns:
        raise ctx.error("columns is empty: name the columns to parse")
    names = unique(list(step.columns), ctx, "columns")
    ctx.require(columns, names, "columns")
    for name in names:
        if not is_string_type(columns[name]) and columns[name] not in _DATE_SOURCES:
            raise ctx.error(
                f"column {name!r} is {columns[name]}; parse_dates reads text, dates or "
                "timestamps (cast it to STRING first)"
            )
    target = _date_target(ctx, step.type)
    policy = error_policy(ctx, step.on_error)
    zone = _zone(ctx, step.timezone or "UTC")
    fmt = (step.format, _format_type(ctx, step.format)) if step.format else None

    def parse(selected: list[str], params: Params) -> dict[str, str]:
        lazy_zone = _Lazy(params, zone)
        lazy_fmt = (_Lazy(params, fmt[0]), fmt[1]) if fmt else None
        return {
            name: _parsed(name, columns[name], target, lazy_fmt, lazy_zone) for name in selected
        }

    texts = [name for name in names if is_string_type(columns[name])]

    def finish(ctx: StepContext, view: str, row: Sequence[object] = ()) -> str:
        failure = failure_of(texts, row) if row else None
        if failure is not None:
            what = data_type_name(step.type or common_pb2.DATA_TYPE_TIMESTAMP)
            how = f"format {step.format!r}" if step.format else "ISO 8601"
            raise ctx.error(_fail_message(*failure, f"{what} ({how})"))
        params = Params()
        parsed = parse(names, params)
        ok = {name: f"({sql} IS NOT NULL)" for name, sql in parsed.items()}
        return _finish(ctx, view, columns, parsed, ok, policy, params.values)

    if policy != FAIL or not texts:
        return finish(ctx, view)

    def failing(params: Params) -> dict[str, str]:
        return {
            name: f"{quote_ident(name)} IS NOT NULL AND {sql} IS NULL"
            for name, sql in parse(texts, params).items()
        }

    return Pending(
        lambda params: failure_aggregates(failing(params)),
        frozenset([*texts, ROW_COLUMN]),
        finish,
    )


def _date_target(ctx: StepContext, data_type: int) -> str:
    if data_type in (common_pb2.DATA_TYPE_UNSPECIFIED, common_pb2.DATA_TYPE_TIMESTAMP):
        return TIMESTAMPTZ
    if data_type == common_pb2.DATA_TYPE_DATE:
        return "DATE"
    raise ctx.error(f"type {data_type_name(data_type)} is not DATE or TIMESTAMP")


def _zone(ctx: StepContext, zone: str) -> str:
    found = ctx.fetch_row("SELECT count(*) FROM pg_timezone_names() WHERE name = $1", [zone])
    if not found[0]:
        raise ctx.error(f"timezone {zone!r} is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')")
    return zone


def _format_type(ctx: StepContext, fmt: str) -> str:
    """The type strptime gives for this format (with %z: an instant); refuses a bad format."""
    try:
        row = ctx.fetch_row("SELECT typeof(try_strptime('', $1))", [fmt])
    except duckdb.Error as exc:
        raise ctx.error(f"format {fmt!r} is not a strftime format: {exc}") from None
    return str(row[0])


class _Lazy:
    """A value bound as a parameter the first time the SQL uses it (unused ones are not bound)."""

    def __init__(self, params: Params, value: object) -> None:
        self.params, self.value, self.marker = params, value, ""

    def __str__(self) -> str:
        if not self.marker:
            self.marker = self.params.bind(self.value)
        return self.marker


def _parsed(name: str, source: str, target: str, fmt: tuple[_Lazy, str] | None, zone: _Lazy) -> str:
    column = quote_ident(name)
    if is_string_type(source) and fmt is None:
        if target == "DATE":
            return f"TRY_CAST({column} AS DATE)"
        return (
            f"(CASE WHEN regexp_matches({column}, '{_OFFSET_PATTERN}') "
            f"THEN TRY_CAST({column} AS {TIMESTAMPTZ}) "
            f"ELSE timezone({zone}, TRY_CAST({column} AS TIMESTAMP)) END)"
        )
    raw, raw_type = column, source
    if fmt is not None and is_string_type(source):
        raw, raw_type = f"try_strptime({column}, {fmt[0]})", fmt[1]
    if target == "DATE":
        return f"CAST({raw} AS DATE)"
    if raw_type == TIMESTAMPTZ:
        return raw
    return f"timezone({zone}, CAST({raw} AS TIMESTAMP))"
