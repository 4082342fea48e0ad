"""The data engine: DuckDB views over sources, recipe steps, splits, profiles and Parquet parts.

Conventions every engine module keeps: each intermediate result is a DuckDB view whose generated
name (`ViewNames`) the function returns; the first column of every view is `ROW_COLUMN`, the
0-based row order; user column names only ever reach SQL through `quote_ident` and user values
only as bound parameters (`create_view(con, name, sql, params)`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence

import duckdb

from aimass.common.v1 import common_pb2
from services.common.errors import InvalidArgument

ROW_COLUMN = "_aimass_row"
SPLIT_COLUMN = "_split"
# Every name starting with this is the engine's own (row order, helper columns of joins/unions).
RESERVED_PREFIX = "_aimass_"

_DUCKDB_TYPES: dict[int, str] = {
    common_pb2.DATA_TYPE_BOOL: "BOOLEAN",
    common_pb2.DATA_TYPE_INT8: "TINYINT",
    common_pb2.DATA_TYPE_INT16: "SMALLINT",
    common_pb2.DATA_TYPE_INT32: "INTEGER",
    common_pb2.DATA_TYPE_INT64: "BIGINT",
    common_pb2.DATA_TYPE_UINT8: "UTINYINT",
    common_pb2.DATA_TYPE_UINT16: "USMALLINT",
    common_pb2.DATA_TYPE_UINT32: "UINTEGER",
    common_pb2.DATA_TYPE_UINT64: "UBIGINT",
    # DuckDB has no half float; FP16 is stored as FLOAT.
    common_pb2.DATA_TYPE_FP16: "FLOAT",
    common_pb2.DATA_TYPE_FP32: "FLOAT",
    common_pb2.DATA_TYPE_FP64: "DOUBLE",
    common_pb2.DATA_TYPE_BYTES: "BLOB",
    common_pb2.DATA_TYPE_STRING: "VARCHAR",
    common_pb2.DATA_TYPE_DATE: "DATE",
    common_pb2.DATA_TYPE_TIMESTAMP: "TIMESTAMP",
    common_pb2.DATA_TYPE_DECIMAL: "DECIMAL(38,9)",
}
_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})
_TEMPORAL_TYPES = frozenset(
    {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS"}
    | {"TIMESTAMP_NS", "TIME", "TIME WITH TIME ZONE", "INTERVAL"}
)
# A scalar type as DuckDB spells it: a word or words, optionally with (precision[, scale]).
_SCALAR_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\(\d+(,\s*\d+)?\))?")
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# One counter for the whole process, so two ViewNames with the same prefix never collide.
_VIEW_COUNTER = itertools.count(1)


def quote_ident(name: str) -> str:
    """A SQL identifier for `name`: double quotes around it, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def data_type_name(data_type: int) -> str:
    """'INT64' for DATA_TYPE_INT64: the name used in messages to users."""
    return common_pb2.DataType.Name(data_type).removeprefix("DATA_TYPE_")


def duckdb_type(data_type: int) -> str:
    """The DuckDB type a common DataType is stored as; UNSPECIFIED is INVALID_ARGUMENT."""
    try:
        return _DUCKDB_TYPES[data_type]
    except KeyError:
        raise InvalidArgument(
            f"data type {data_type} is not a column type: use one of "
            + ", ".join(data_type_name(key) for key in _DUCKDB_TYPES)
        ) from None


def base_type(type_name: str) -> str:
    """'DECIMAL' for 'DECIMAL(18,3)'; the type name without its parameters."""
    return type_name.split("(", 1)[0].strip()


def is_integer_type(type_name: str) -> bool:
    return base_type(type_name) in _INTEGER_TYPES


def is_float_type(type_name: str) -> bool:
    return base_type(type_name) in _FLOAT_TYPES


def is_numeric_type(type_name: str) -> bool:
    name = base_type(type_name)
    return name in _INTEGER_TYPES or name in _FLOAT_TYPES or name == "DECIMAL"


def is_string_type(type_name: str) -> bool:
    return base_type(type_name) == "VARCHAR"


def is_temporal_type(type_name: str) -> bool:
    return type_name in _TEMPORAL_TYPES


def type_family(type_name: str) -> str:
    """'number', 'text', 'time', 'bool', or the type itself: what may be compared with what."""
    if is_numeric_type(type_name):
        return "number"
    if is_string_type(type_name):
        return "text"
    if is_temporal_type(type_name):
        return "time"
    if type_name == "BOOLEAN":
        return "bool"
    return type_name


def is_scalar_type(type_name: str) -> bool:
    """Whether a DuckDB type name is a plain scalar (safe to write as a CAST target)."""
    return _SCALAR_TYPE.fullmatch(type_name) is not None


class ViewNames:
    """Generates view names `f"{prefix}_{n}"`, unique in the process; never from user input."""

    def __init__(self, prefix: str) -> None:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"view name prefix {prefix!r} must be a plain SQL identifier")
        self.prefix = prefix

    def next(self) -> str:
        return f"{self.prefix}_{next(_VIEW_COUNTER)}"


def check_column_name(name: str, what: str = "column name") -> str:
    """A user column name: not empty, no NUL, not one of the engine's reserved names."""
    if not name:
        raise InvalidArgument(f"{what} is empty: every column needs a name")
    if "\x00" in name:
        raise InvalidArgument(f"{what} {name!r} contains a NUL character")
    if name == SPLIT_COLUMN or name.startswith(RESERVED_PREFIX):
        raise InvalidArgument(
            f"{what} {name!r} is reserved ({SPLIT_COLUMN!r} and names starting with "
            f"{RESERVED_PREFIX!r} belong to the engine); use another name"
        )
    return name


def reserved_check(columns: Iterable[str], what: str = "column name") -> None:
    """INVALID_ARGUMENT if any user column is empty or uses a reserved name."""
    for name in columns:
        check_column_name(name, what)


def columns_of(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column name -> DuckDB type name of a view or table, in column order."""
    rows = con.execute(f"DESCRIBE {quote_ident(view)}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def create_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    params: Sequence[object] | Mapping[str, object] = (),
) -> str:
    """CREATE VIEW `name` AS `sql`, with `params` bound to its `$n` / `?` markers; returns name.

    DuckDB cannot prepare CREATE VIEW, so the SELECT is bound as a relation and the engine writes
    the bound values into the view itself: no user text is spliced by us.
    """
    bound = dict(params) if isinstance(params, Mapping) else list(params)
    relation = con.sql(sql, params=bound) if params else con.sql(sql)
    relation.create_view(name, replace=False)
    return name


class Params:
    """Values bound to `$1`, `$2`, ... in the order `bind` is called."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def bind(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def materialize(con: duckdb.DuckDBPyConnection, view: str, name: str) -> str:
    """Compute ``view`` once into a temporary table named ``name`` (spilling to the temp directory
    past the memory limit), so the split, the writer and their counts scan it instead of
    re-running every step of the recipe behind the view."""
    con.execute(f"CREATE TEMP TABLE {quote_ident(name)} AS SELECT * FROM {quote_ident(view)}")
    return name
