"""Missing values: drop the rows, or fill with a constant, the mean, median or mode, or forward.

A value is missing when it is null, or NaN in a float column. Fill values are computed in a first
pass over the step's input (a mean or median as a `Pending` aggregate, which the recipe may share
with other steps' passes) and bound into the step's view, so the view does not recompute them;
they are cast to the column's type (a mean filled into an integer column is rounded). The mode is
the most frequent value, the smallest one on a tie (as pandas' mode()[0]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import (
    Params,
    is_float_type,
    is_numeric_type,
    is_scalar_type,
    quote_ident,
)
from services.ingest.engine.casting import bind_literals, value_of
from services.ingest.engine.steps_base import (
    ROW,
    Effect,
    Pending,
    StepContext,
    projection,
    unique,
    user_columns,
)

S = pb.MissingValueStrategy
_AGGREGATES: dict[int, str] = {
    S.MISSING_VALUE_STRATEGY_FILL_MEAN: "avg",
    S.MISSING_VALUE_STRATEGY_FILL_MEDIAN: "median",
}


def missing_sql(name: str, type_name: str) -> str:
    column = quote_ident(name)
    if is_float_type(type_name):
        return f"({column} IS NULL OR isnan({column}))"
    return f"({column} IS NULL)"


def _strategy_name(strategy: int) -> str:
    return S.Name(strategy).removeprefix("MISSING_VALUE_STRATEGY_")


def _checked(ctx: StepContext, columns: Mapping[str, str], step: pb.MissingValuesStep) -> list[str]:
    """The named columns, after every check of the step's fields."""
    strategy = step.strategy
    if strategy not in S.values() or strategy == S.MISSING_VALUE_STRATEGY_UNSPECIFIED:
        raise ctx.error(
            "set strategy: DROP_ROW, FILL_CONSTANT, FILL_MEAN, FILL_MEDIAN, FILL_MODE or "
            "FORWARD_FILL"
        )
    if strategy != S.MISSING_VALUE_STRATEGY_FORWARD_FILL and (step.order_by or step.partition_by):
        raise ctx.error("order_by and partition_by only go with FORWARD_FILL")
    if strategy != S.MISSING_VALUE_STRATEGY_FILL_CONSTANT and step.HasField("fill_value"):
        raise ctx.error("fill_value only goes with FILL_CONSTANT")
    names = unique(list(step.columns), ctx, "columns")
    ctx.require(columns, names, "columns")
    return names


def apply_missing_values(ctx: StepContext, view: str, step: pb.MissingValuesStep) -> str | Pending:
    columns = ctx.columns(view)
    names = _checked(ctx, columns, step)
    strategy = step.strategy
    if strategy == S.MISSING_VALUE_STRATEGY_DROP_ROW:
        names = names or user_columns(columns)
        condition = " OR ".join(missing_sql(name, columns[name]) for name in names)
        return ctx.view(f"SELECT * FROM {quote_ident(view)} WHERE NOT ({condition})")
    if strategy == S.MISSING_VALUE_STRATEGY_FILL_CONSTANT:
        return _fill_constant(ctx, view, columns, names or user_columns(columns), step)
    if strategy in _AGGREGATES:
        pending = _fill_aggregate(ctx, columns, names, strategy)
        if pending is None:
            ctx.warn("no numeric columns to fill; the step changes nothing")
            return view
        return pending
    if strategy == S.MISSING_VALUE_STRATEGY_FILL_MODE:
        return _fill_mode(ctx, view, columns, names)
    return _forward_fill(ctx, view, columns, names, step)


def declare_missing_values(
    ctx: StepContext, view: str, step: pb.MissingValuesStep
) -> Pending | None:
    """The first pass of FILL_MEAN / FILL_MEDIAN (None for the other strategies), without
    running anything over the data."""
    if step.strategy not in _AGGREGATES:
        return None
    columns = ctx.columns(view)
    return _fill_aggregate(ctx, columns, _checked(ctx, columns, step), step.strategy)


def missing_values_effect(step: pb.MissingValuesStep, columns: Mapping[str, str]) -> Effect:
    """DROP_ROW drops rows; the fills change the columns they fill (the same ones the step
    picks when it names none), nothing else."""
    strategy = step.strategy
    if strategy == S.MISSING_VALUE_STRATEGY_DROP_ROW:
        return Effect(keeps_rows=False, changes=frozenset())
    names = list(step.columns)
    if not names and strategy in _AGGREGATES:
        names = [name for name in user_columns(columns) if is_numeric_type(columns[name])]
    elif not names and strategy == S.MISSING_VALUE_STRATEGY_FILL_MODE:
        names = [name for name in user_columns(columns) if is_scalar_type(columns[name])]
    elif not names:  # FILL_CONSTANT and FORWARD_FILL (which leaves out its partition columns)
        names = user_columns(columns)
    return Effect(keeps_rows=True, changes=frozenset(names))


def _filled(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    fills: Mapping[str, str],
    params: Params,
) -> str:
    replace = {
        name: f"(CASE WHEN {missing_sql(name, columns[name])} THEN {fill} "
        f"ELSE {quote_ident(name)} END)"
        for name, fill in fills.items()
    }
    return ctx.view(
        f"SELECT {projection(columns, replace)} FROM {quote_ident(view)}", params.values
    )


def _fill_constant(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    names: list[str],
    step: pb.MissingValuesStep,
) -> str:
    try:
        value = value_of(step.fill_value, "fill_value")
    except InvalidArgument as exc:
        raise ctx.error(exc.message) from None
    if value is None:
        raise ctx.error("fill_value is required with FILL_CONSTANT")
    params = Params()
    fills: dict[str, str] = {}
    for name in names:
        try:
            fills[name] = bind_literals(
                ctx.con, params, [value], name, columns[name], "fill_value", always_cast=True
            )[0]
        except InvalidArgument as exc:
            raise ctx.error(f"{exc.message}; name the columns it fits in columns") from None
    return _filled(ctx, view, columns, fills, params)


def _targets(
    ctx: StepContext, columns: Mapping[str, str], names: list[str], numeric: bool, strategy: int
) -> list[str]:
    """The named columns (each must fit the strategy) or, when none are named, all that fit."""

    def fits(type_name: str) -> bool:
        return is_numeric_type(type_name) if numeric else is_scalar_type(type_name)

    if not names:
        return [name for name in user_columns(columns) if fits(columns[name])]
    need = "numeric columns" if numeric else "columns of a scalar type"
    for name in names:
        if not fits(columns[name]):
            raise ctx.error(
                f"column {name!r} is {columns[name]}; {_strategy_name(strategy)} needs {need}"
            )
    return names


def _fill_aggregate(
    ctx: StepContext, columns: Mapping[str, str], names: list[str], strategy: int
) -> Pending | None:
    """The fill values as aggregates over the step's input; None when no column fits."""
    names = _targets(ctx, columns, names, numeric=True, strategy=strategy)
    if not names:
        return None
    function = _AGGREGATES[strategy]
    parts = [
        f"{function}(CAST({quote_ident(name)} AS DOUBLE)) "
        f"FILTER (WHERE NOT {missing_sql(name, columns[name])})"
        for name in names
    ]

    def finish(ctx: StepContext, view: str, row: Sequence[object]) -> str:
        return _fill_values(ctx, view, columns, dict(zip(names, row, strict=True)))

    holistic = len(names) if strategy == S.MISSING_VALUE_STRATEGY_FILL_MEDIAN else 0
    return Pending(lambda _params: parts, frozenset(names), finish, holistic)


def _fill_values(
    ctx: StepContext, view: str, columns: Mapping[str, str], values: Mapping[str, object]
) -> str:
    params = Params()
    fills: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            ctx.warn(f"column {name!r} has no values to compute a fill from; its nulls stay")
            continue
        fills[name] = f"CAST({params.bind(value)} AS {columns[name]})"
    return _filled(ctx, view, columns, fills, params) if fills else view


def _fill_mode(ctx: StepContext, view: str, columns: Mapping[str, str], names: list[str]) -> str:
    names = _targets(
        ctx, columns, names, numeric=False, strategy=S.MISSING_VALUE_STRATEGY_FILL_MODE
    )
    values: dict[str, object] = {}
    for name in names:
        column = quote_ident(name)
        rows = ctx.con.execute(
            f"SELECT {column} FROM {quote_ident(view)} "
            f"WHERE NOT {missing_sql(name, columns[name])} "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT 1"
        ).fetchall()
        values[name] = rows[0][0] if rows else None
    return _fill_values(ctx, view, columns, values)


def _forward_fill(
    ctx: StepContext,
    view: str,
    columns: Mapping[str, str],
    names: list[str],
    step: pb.MissingValuesStep,
) -> str:
    if not step.order_by:
        raise ctx.error("FORWARD_FILL needs order_by: the row order to fill along (e.g. a time)")
    order_names = [order.field for order in step.order_by]
    ctx.require(columns, order_names, "order_by")
    partition = unique(list(step.partition_by), ctx, "partition_by")
    ctx.require(columns, partition, "partition_by")
    names = names or [name for name in user_columns(columns) if name not in partition]
    order = ", ".join(
        f"{quote_ident(o.field)} {'DESC' if o.descending else 'ASC'} NULLS LAST"
        for o in step.order_by
    )
    partition_sql = f"PARTITION BY {', '.join(map(quote_ident, partition))} " if partition else ""
    window = (
        f"({partition_sql}ORDER BY {order}, {ROW} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    fills = {}
    for name in names:
        value = quote_ident(name)
        if is_float_type(columns[name]):
            value = f"(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)"
        fills[name] = f"last_value({value} IGNORE NULLS) OVER w"
    return ctx.view(
        f"SELECT {projection(columns, fills)} FROM {quote_ident(view)} "
        f"WINDOW w AS {window} ORDER BY {ROW}"
    )
