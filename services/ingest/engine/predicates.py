"""Filter predicates (a protobuf tree) compiled to SQL with bound parameters.

Each comparison is two-valued: a comparison whose SQL result is null (a null cell) counts as
false, before and/or/not combine them. So `x != 5` drops rows where x is null, and
`negate(x = 5)` keeps them. Values are cast to the column's type (dates as ISO 8601 text);
columns only reach the SQL through quote_ident.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import InvalidArgument
from services.ingest.engine import (
    ROW_COLUMN,
    Params,
    is_string_type,
    quote_ident,
    type_family,
)
from services.ingest.engine.casting import bind_literals, value_of

Op = pb.Comparison
_COMPARE = {
    Op.OPERATOR_EQ: "=",
    Op.OPERATOR_NE: "<>",
    Op.OPERATOR_LT: "<",
    Op.OPERATOR_LE: "<=",
    Op.OPERATOR_GT: ">",
    Op.OPERATOR_GE: ">=",
}
_TEXT = {
    Op.OPERATOR_CONTAINS: "contains",
    Op.OPERATOR_STARTS_WITH: "starts_with",
    Op.OPERATOR_ENDS_WITH: "ends_with",
}
_LISTS = {Op.OPERATOR_IN, Op.OPERATOR_NOT_IN, Op.OPERATOR_BETWEEN}
_NULL_TESTS = {Op.OPERATOR_IS_NULL: "IS NULL", Op.OPERATOR_IS_NOT_NULL: "IS NOT NULL"}
MAX_DEPTH = 64
MAX_VALUES = 10_000


def compile_predicate(
    con: duckdb.DuckDBPyConnection, predicate: pb.Predicate, columns: Mapping[str, str]
) -> tuple[str, list[object]]:
    """(SQL condition, parameters) for `predicate` over a table with `columns` (name -> type)."""
    params = Params()
    sql = _Compiler(con, columns, params).predicate(predicate, "keep", 0)
    return sql, params.values


def _op_name(op: int) -> str:
    return Op.Operator.Name(op).removeprefix("OPERATOR_") if op in Op.Operator.values() else str(op)


class _Compiler:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, columns: Mapping[str, str], params: Params
    ) -> None:
        self.con = con
        self.columns = columns
        self.params = params

    def predicate(self, predicate: pb.Predicate, path: str, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise InvalidArgument(f"{path}: predicates nest deeper than {MAX_DEPTH} levels")
        kind = predicate.WhichOneof("kind")
        if kind == "comparison":
            return self.comparison(predicate.comparison, f"{path}.comparison")
        if kind == "negate":
            return f"(NOT {self.predicate(predicate.negate, f'{path}.negate', depth + 1)})"
        if kind in ("all_of", "any_of"):
            items = getattr(predicate, kind).predicates
            if not items:
                raise InvalidArgument(f"{path}.{kind} is empty: give at least one predicate")
            parts = [
                self.predicate(item, f"{path}.{kind}[{i}]", depth + 1)
                for i, item in enumerate(items)
            ]
            return "(" + (" AND " if kind == "all_of" else " OR ").join(parts) + ")"
        raise InvalidArgument(f"{path} is empty: set comparison, all_of, any_of or negate")

    def column(self, name: str, where: str) -> str:
        if name not in self.columns or name == ROW_COLUMN:
            known = ", ".join(repr(c) for c in list(self.columns)[:20] if c != ROW_COLUMN)
            raise InvalidArgument(f"{where}: unknown column {name!r}; columns are {known}")
        return self.columns[name]

    def comparison(self, comparison: pb.Comparison, path: str) -> str:
        op = comparison.op
        name = _op_name(op)
        where = f"{path} ({comparison.column!r} {name})"
        column_type = self.column(comparison.column, where)
        left = quote_ident(comparison.column)
        if op in _NULL_TESTS:
            self.expect(comparison, where, value=False, values=False)
            return f"({left} {_NULL_TESTS[op]})"
        if op in _LISTS:
            sql = self.listed(comparison, where, left, column_type)
        elif op in _COMPARE or op in _TEXT:
            right = self.right_side(comparison, where, column_type, text=op in _TEXT)
            sql = (
                f"{_TEXT[op]}({left}, {right})" if op in _TEXT else f"{left} {_COMPARE[op]} {right}"
            )
        else:
            raise InvalidArgument(
                f"{where}: set op to one of EQ, NE, LT, LE, GT, GE, IN, "
                "NOT_IN, BETWEEN, IS_NULL, IS_NOT_NULL, CONTAINS, STARTS_WITH, "
                "ENDS_WITH"
            )
        return f"COALESCE(({sql}), FALSE)"

    def expect(self, comparison: pb.Comparison, where: str, value: bool, values: bool) -> None:
        """Refuse the fields this operator does not take."""
        if comparison.HasField("value") and not value:
            use = "values" if values else "no value"
            raise InvalidArgument(f"{where}: this operator takes {use}; unset value")
        if comparison.values and not values:
            use = "value" if value else "no values"
            raise InvalidArgument(f"{where}: this operator takes {use}; unset values")
        if comparison.other_column and not value:
            raise InvalidArgument(
                f"{where}: other_column only goes with EQ, NE, LT, LE, GT, GE, CONTAINS, "
                "STARTS_WITH and ENDS_WITH"
            )

    def right_side(
        self, comparison: pb.Comparison, where: str, column_type: str, text: bool
    ) -> str:
        self.expect(comparison, where, value=True, values=False)
        if text and not is_string_type(column_type):
            raise InvalidArgument(f"{where}: column is {column_type}; text operators need text")
        if comparison.other_column:
            if comparison.HasField("value"):
                raise InvalidArgument(f"{where}: set value or other_column, not both")
            other_type = self.column(comparison.other_column, where)
            if type_family(other_type) != type_family(column_type):
                raise InvalidArgument(
                    f"{where}: column is {column_type} but other_column "
                    f"{comparison.other_column!r} is {other_type}; cast one of them first"
                )
            return quote_ident(comparison.other_column)
        value = value_of(comparison.value, f"{where} value")
        if value is None:
            raise InvalidArgument(f"{where}: value is missing (use IS_NULL to test for null)")
        if text and not isinstance(value, str):
            raise InvalidArgument(f"{where}: value must be a string")
        return self.literals([value], comparison.column, column_type, where)[0]

    def listed(self, comparison: pb.Comparison, where: str, left: str, column_type: str) -> str:
        count = len(comparison.values)
        self.expect(comparison, where, value=False, values=True)
        if comparison.op == Op.OPERATOR_BETWEEN and count != 2:
            raise InvalidArgument(f"{where}: BETWEEN takes exactly 2 values, got {count}")
        if not 1 <= count <= MAX_VALUES:
            raise InvalidArgument(f"{where}: give 1 to {MAX_VALUES} values, got {count}")
        values = [value_of(v, f"{where} values[{i}]") for i, v in enumerate(comparison.values)]
        if any(value is None for value in values):
            raise InvalidArgument(f"{where}: values contain a null; use IS_NULL for nulls")
        sql = self.literals(values, comparison.column, column_type, where)
        if comparison.op == Op.OPERATOR_BETWEEN:
            return f"{left} BETWEEN {sql[0]} AND {sql[1]}"
        negation = "NOT " if comparison.op == Op.OPERATOR_NOT_IN else ""
        return f"{left} {negation}IN ({', '.join(sql)})"

    def literals(self, values: list[object], column: str, type_name: str, where: str) -> list[str]:
        return bind_literals(self.con, self.params, values, column, type_name, where)
