"""Column steps: select, rename, filter (a predicate tree) and derive (a parsed expression)."""

from __future__ import annotations

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import data_type_name, duckdb_type, quote_ident
from services.ingest.engine.casting import castable_sql
from services.ingest.engine.expressions import compile_expression
from services.ingest.engine.predicates import compile_predicate
from services.ingest.engine.steps_base import (
    ROW,
    StepContext,
    projection,
    shown_value,
    unique,
    user_columns,
)
from services.ingest.engine.steps_types import first_failure


def apply_select(ctx: StepContext, view: str, step: pb.SelectStep) -> str:
    columns = ctx.columns(view)
    if bool(step.columns) == bool(step.drop):
        raise ctx.error("set either columns (kept, in that order) or drop (removed), not both")
    field = "columns" if step.columns else "drop"
    names = unique(list(step.columns or step.drop), ctx, field)
    ctx.require(columns, names, field)
    keep = names if step.columns else [c for c in user_columns(columns) if c not in names]
    if not keep:
        raise ctx.error("drop removes every column; keep at least one")
    return ctx.view(
        f"SELECT {ROW}, {', '.join(quote_ident(c) for c in keep)} FROM {quote_ident(view)}"
    )


def apply_rename(ctx: StepContext, view: str, step: pb.RenameStep) -> str:
    columns = ctx.columns(view)
    if not step.columns:
        raise ctx.error("columns is empty: map each old name to its new name")
    mapping = dict(sorted(step.columns.items()))
    ctx.require(columns, mapping, "columns")
    for old, new in mapping.items():
        ctx.new_name(new, f"new name for {old!r}")
    result: dict[str, str] = {}
    for name in user_columns(columns):
        new = mapping.get(name, name)
        if new in result:
            raise ctx.error(
                f"renaming gives two columns named {new!r} (from {result[new]!r} and {name!r}); "
                "choose another name or drop one first"
            )
        result[new] = name
    select = ", ".join(f"{quote_ident(old)} AS {quote_ident(new)}" for new, old in result.items())
    return ctx.view(f"SELECT {ROW}, {select} FROM {quote_ident(view)}")


def apply_filter(ctx: StepContext, view: str, step: pb.FilterStep) -> str:
    columns = ctx.columns(view)
    if not step.HasField("keep"):
        raise ctx.error("keep is empty: give the predicate rows must satisfy to be kept")
    try:
        condition, params = compile_predicate(ctx.con, step.keep, columns)
    except InvalidArgument as exc:
        raise ctx.error(exc.message) from None
    return ctx.view(f"SELECT * FROM {quote_ident(view)} WHERE {condition}", params)


def apply_derive(ctx: StepContext, view: str, step: pb.DeriveStep) -> str:
    columns = ctx.columns(view)
    name = ctx.new_name(step.column, "column")
    try:
        compiled = compile_expression(step.expression, columns)
    except InvalidArgument as exc:
        raise ctx.error(exc.message) from None
    if name in columns:
        select = projection(columns, {name: compiled.sql})
    else:
        select = f"{projection(columns, {})}, {compiled.sql} AS {quote_ident(name)}"
    derived = ctx.view(
        f"SELECT {select} FROM {quote_ident(view)}",
        compiled.params,
        failure=f"expression {step.expression!r} does not type-check",
    )
    if step.type == common_pb2.DATA_TYPE_UNSPECIFIED:
        return derived
    return _cast_result(ctx, derived, name, step.type)


def _cast_result(ctx: StepContext, view: str, name: str, data_type: int) -> str:
    """The derived column cast to data_type, after a pass proving every value casts."""
    try:
        target = duckdb_type(data_type)
    except InvalidArgument as exc:
        raise ctx.error(exc.message) from None
    columns = ctx.columns(view)
    ok = castable_sql(quote_ident(name), columns[name], target)
    failing = {name: f"{quote_ident(name)} IS NOT NULL AND NOT {ok}"}
    failure = first_failure(ctx, view, failing)
    if failure is not None:
        _, value, count = failure
        raise ctx.error(
            f"derived column {name!r} value {shown_value(value)} does not cast to "
            f"{data_type_name(data_type)} ({count} values do not); change the expression or type"
        )
    cast = {name: f"CAST({quote_ident(name)} AS {target})"}
    return ctx.view(f"SELECT {projection(columns, cast)} FROM {quote_ident(view)}")
