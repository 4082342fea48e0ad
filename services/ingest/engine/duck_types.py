"""DuckDB column types as the platform's common DataType (schemas, resolved CSV column types)."""

from __future__ import annotations

from aimass.common.v1 import common_pb2
from services.ingest.engine import base_type

_COMMON: dict[str, common_pb2.DataType] = {
    "BOOLEAN": common_pb2.DATA_TYPE_BOOL,
    "TINYINT": common_pb2.DATA_TYPE_INT8,
    "SMALLINT": common_pb2.DATA_TYPE_INT16,
    "INTEGER": common_pb2.DATA_TYPE_INT32,
    "BIGINT": common_pb2.DATA_TYPE_INT64,
    "UTINYINT": common_pb2.DATA_TYPE_UINT8,
    "USMALLINT": common_pb2.DATA_TYPE_UINT16,
    "UINTEGER": common_pb2.DATA_TYPE_UINT32,
    "UBIGINT": common_pb2.DATA_TYPE_UINT64,
    "FLOAT": common_pb2.DATA_TYPE_FP32,
    "DOUBLE": common_pb2.DATA_TYPE_FP64,
    "DECIMAL": common_pb2.DATA_TYPE_DECIMAL,
    # 128-bit integers have no common type of their own; DECIMAL holds them losslessly enough.
    "HUGEINT": common_pb2.DATA_TYPE_DECIMAL,
    "UHUGEINT": common_pb2.DATA_TYPE_DECIMAL,
    "VARCHAR": common_pb2.DATA_TYPE_STRING,
    "UUID": common_pb2.DATA_TYPE_STRING,
    "JSON": common_pb2.DATA_TYPE_STRING,
    "BLOB": common_pb2.DATA_TYPE_BYTES,
    "DATE": common_pb2.DATA_TYPE_DATE,
    "TIMESTAMP": common_pb2.DATA_TYPE_TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": common_pb2.DATA_TYPE_TIMESTAMP,
    "TIMESTAMP_S": common_pb2.DATA_TYPE_TIMESTAMP,
    "TIMESTAMP_MS": common_pb2.DATA_TYPE_TIMESTAMP,
    "TIMESTAMP_NS": common_pb2.DATA_TYPE_TIMESTAMP,
}


def common_type(type_name: str) -> common_pb2.DataType:
    """The common DataType of a DuckDB type name; DATA_TYPE_UNSPECIFIED when there is none
    (TIME, INTERVAL, lists, structs, maps: the schema keeps DuckDB's name as logical_type)."""
    if type_name.startswith("ENUM("):
        return common_pb2.DATA_TYPE_STRING
    return _COMMON.get(base_type(type_name), common_pb2.DATA_TYPE_UNSPECIFIED)
