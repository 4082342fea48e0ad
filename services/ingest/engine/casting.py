"""Values from recipes (protobuf Values) and the checks that tell whether something casts.

A float or a text only casts to an integer type when it is a whole number: DuckDB would round
3.7 to 4, which silently changes data, so the engine calls that a value that does not cast.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
from google.protobuf import struct_pb2

from services.common.errors import InvalidArgument
from services.ingest.engine import (
    Params,
    base_type,
    is_float_type,
    is_integer_type,
    is_numeric_type,
    is_scalar_type,
    is_string_type,
)

_INT64_LIMIT = 2**63


def value_of(value: struct_pb2.Value, what: str) -> object:
    """The Python value of a protobuf Value: None, int (whole numbers), float, str or bool."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < _INT64_LIMIT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    raise InvalidArgument(
        f"{what} is a {kind.removesuffix('_value')}; use a number, a string or a boolean"
    )


def castable_sql(expr: str, source_type: str, target_type: str) -> str:
    """SQL that is true when `expr` (of source_type, not null) casts to target_type losslessly."""
    ok = f"(TRY_CAST({expr} AS {target_type}) IS NOT NULL"
    source = base_type(source_type)
    if is_integer_type(target_type) and (is_float_type(source) or source in ("VARCHAR", "DECIMAL")):
        ok += f" AND TRY_CAST({expr} AS DOUBLE) = TRY_CAST({expr} AS {target_type})"
    return ok + ")"


def _literal_type(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"


def _native(value: object, type_name: str) -> bool:
    """Whether the value compares with a column of this type without a cast."""
    if isinstance(value, bool):
        return base_type(type_name) == "BOOLEAN"
    if isinstance(value, int | float):
        return is_numeric_type(type_name)
    return isinstance(value, str) and is_string_type(type_name)


def bind_literals(
    con: duckdb.DuckDBPyConnection,
    params: Params,
    values: Sequence[object],
    column: str,
    type_name: str,
    what: str,
    always_cast: bool = False,
) -> list[str]:
    """SQL for each value as a bound parameter, cast to the column's type where it needs one.

    With always_cast every value becomes exactly the column's type (a fill value must not change
    the column's type), so 2.5 for an integer column does not cast.

    Every value that needs a cast is checked first (one query), so a value that does not cast is
    INVALID_ARGUMENT naming it instead of a failure in the middle of the job.
    """

    def native(value: object) -> bool:
        return not always_cast and _native(value, type_name)

    needs_cast = [value for value in values if not native(value)]
    if needs_cast:
        if not is_scalar_type(type_name):
            raise InvalidArgument(
                f"{what}: column {column!r} is {type_name}; only columns of scalar types can be "
                "compared with or filled by values"
            )
        check = Params()
        tests = [
            castable_sql(check.bind(value), _literal_type(value), type_name) for value in needs_cast
        ]
        row = con.execute("SELECT " + ", ".join(tests), check.values).fetchall()[0]
        for value, ok in zip(needs_cast, row, strict=True):
            if not ok:
                raise InvalidArgument(
                    f"{what}: value {value!r} does not cast to {type_name}, the type of column "
                    f"{column!r}"
                )
    return [
        params.bind(value) if native(value) else f"CAST({params.bind(value)} AS {type_name})"
        for value in values
    ]
