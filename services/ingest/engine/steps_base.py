"""What every recipe step shares: its place in the recipe (for messages), view creation, and
the first pass a step may need over its input (`Pending`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from services.common.errors import InvalidArgument
from services.ingest.engine import (
    ROW_COLUMN,
    Params,
    ViewNames,
    check_column_name,
    columns_of,
    create_view,
    quote_ident,
)

ROW = quote_ident(ROW_COLUMN)
MAX_SHOWN = 20


@dataclass
class StepContext:
    con: duckdb.DuckDBPyConnection
    names: ViewNames
    sources: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)
    outlier_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    index: int = 0
    kind: str = ""

    def error(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"step {self.index} ({self.kind}): {message}")

    def warn(self, message: str) -> None:
        self.warnings.append(f"step {self.index} ({self.kind}): {message}")

    def columns(self, view: str) -> dict[str, str]:
        """Name -> DuckDB type of every column, the row column first."""
        columns = columns_of(self.con, view)
        if next(iter(columns), None) != ROW_COLUMN:
            raise ValueError(f"view {view} does not start with {ROW_COLUMN}")
        return columns

    def require(self, columns: Mapping[str, str], names: Iterable[str], what: str) -> None:
        """INVALID_ARGUMENT naming the first of `names` the table does not have."""
        for name in names:
            if name not in columns or name == ROW_COLUMN:
                raise self.error(f"{what}: unknown column {name!r}; {known(columns)}")

    def new_name(self, name: str, what: str) -> str:
        try:
            return check_column_name(name, what)
        except InvalidArgument as exc:
            raise self.error(exc.message) from None

    def view(
        self, sql: str, params: Sequence[object] = (), failure: str = "cannot be applied"
    ) -> str:
        """A new view over `sql`; a query DuckDB cannot bind is INVALID_ARGUMENT for this step."""
        try:
            return create_view(self.con, self.names.next(), sql, params)
        except (duckdb.BinderException, duckdb.ConversionException) as exc:
            raise self.error(f"{failure}: {first_line(exc)}") from None

    def fetch_row(self, sql: str, params: Sequence[object] = ()) -> tuple[object, ...]:
        """The single row of an aggregate query (first passes over a step's input)."""
        rows = self.con.execute(sql, list(params)).fetchall()
        return tuple(rows[0])


@dataclass
class Pending:
    """A step that needs one row of aggregates over its input before it can make its view.

    `aggregates` gives the SQL of each aggregate over the input's columns (binding any value
    through the Params it is handed, so several steps' aggregates share one SELECT); `reads`
    names every input column that SQL reads; `finish` makes the step's view over its input from
    the aggregates' values, in order. `holistic` counts the aggregates that hold every value
    (median, exact quantiles), which bound how many steps share a pass.
    """

    aggregates: Callable[[Params], list[str]]
    reads: frozenset[str]
    finish: Callable[[StepContext, str, Sequence[object]], str]
    holistic: int = 0


@dataclass(frozen=True)
class Effect:
    """What a step does to its input, as far as sharing a first pass across it goes.

    `keeps_rows`: the same rows in the same order. `changes`: the columns whose values may change
    while every name and type stays as it was; None when the schema itself may change."""

    keeps_rows: bool
    changes: frozenset[str] | None


BARRIER = Effect(keeps_rows=False, changes=None)


def user_columns(columns: Mapping[str, str]) -> list[str]:
    return [name for name in columns if name != ROW_COLUMN]


def known(columns: Mapping[str, str]) -> str:
    names = user_columns(columns)
    shown = ", ".join(repr(name) for name in names[:MAX_SHOWN])
    more = f" and {len(names) - MAX_SHOWN} more" if len(names) > MAX_SHOWN else ""
    return f"columns are {shown}{more}"


def unique(names: Sequence[str], ctx: StepContext, what: str) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ctx.error(f"{what} names column {name!r} twice")
        seen.add(name)
    return list(names)


def projection(columns: Iterable[str], replace: Mapping[str, str]) -> str:
    """The select list keeping every column in order, `replace[name]` computing some of them."""
    return ", ".join(
        f"{replace[name]} AS {quote_ident(name)}" if name in replace else quote_ident(name)
        for name in columns
    )


def shown_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
