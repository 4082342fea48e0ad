"""Preview rows as protobuf ListValues: int64 beyond 2^53 and decimals as text, dates and
timestamps as ISO 8601 text, bytes as base64, non-finite floats as text."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from google.protobuf.struct_pb2 import ListValue, Value

SAFE_INTEGER = 2**53


def _set(target: Value, value: Any) -> None:
    if value is None:
        target.null_value = 0  # type: ignore[assignment]
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if abs(value) <= SAFE_INTEGER:
            target.number_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):
            target.number_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bytes | bytearray | memoryview):
        target.string_value = base64.b64encode(bytes(value)).decode()
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        target.string_value = value.isoformat()
    elif isinstance(value, decimal.Decimal | dt.timedelta):
        target.string_value = str(value)
    elif isinstance(value, Mapping):
        target.struct_value.Clear()
        for key, item in value.items():
            _set(target.struct_value.fields[str(key)], item)
    elif isinstance(value, Sequence):
        target.list_value.Clear()
        for item in value:
            _set(target.list_value.values.add(), item)
    else:
        target.string_value = str(value)


def to_list_value(values: Iterable[Any]) -> ListValue:
    row = ListValue()
    for value in values:
        _set(row.values.add(), value)
    return row


def table_rows(table: pa.Table) -> list[ListValue]:
    """Each row of a (small) Arrow table, in column order."""
    columns = [column.to_pylist() for column in table.columns]
    return [to_list_value(values) for values in zip(*columns, strict=True)]
