"""Structured filters and keyset cursor pages, shared by every service's lists and searches.

Filters never splice text into SQL; a list is ordered by one never-null sort expression with ties
broken on id, so pages are stable; a page token carries the last row's sort value and id plus a
fingerprint of the query, so it only continues the search it came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from services.common.errors import InvalidArgument

Op = common_pb2.Filter.Operator
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_FILTERS = 50


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size {requested} is out of range: use 1..{MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def parse_time(value: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{what}: {value!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise InvalidArgument(f"{what}: {value!r} is not a number")
    return number


COMPARISONS: dict[int, Callable[[Any, Any], ColumnElement[bool]]] = {
    Op.OPERATOR_EQ: operator.eq,
    Op.OPERATOR_NE: operator.ne,
    Op.OPERATOR_LT: operator.lt,
    Op.OPERATOR_LE: operator.le,
    Op.OPERATOR_GT: operator.gt,
    Op.OPERATOR_GE: operator.ge,
    Op.OPERATOR_CONTAINS: lambda column, value: func.lower(column).contains(
        str(value).lower(), autoescape=True
    ),
}


def op_name(op: int) -> str:
    return Op.Name(op) if op in Op.values() else str(op)


def compare(
    column: Any, op: int, values: Sequence[Any], what: str, text: bool = True
) -> ColumnElement[bool]:
    """``column <op> values``; CONTAINS (case-insensitive substring) only on text."""
    if op == Op.OPERATOR_IN:
        if not values:
            raise InvalidArgument(f"{what}: IN needs at least one value")
        return column.in_(list(values))
    if op not in COMPARISONS:
        raise InvalidArgument(f"{what}: operator {op_name(op)} does not apply here")
    if op == Op.OPERATOR_CONTAINS and not text:
        raise InvalidArgument(f"{what}: CONTAINS applies to text fields only; use a range")
    if len(values) != 1:
        raise InvalidArgument(f"{what}: {op_name(op)} takes exactly one value")
    return COMPARISONS[op](column, values[0])


def check_filter_count(filters: Sequence[common_pb2.Filter]) -> None:
    if len(filters) > MAX_FILTERS:
        raise InvalidArgument(f"{len(filters)} filters; use at most {MAX_FILTERS}")


@dataclass(frozen=True)
class Cursor:
    value: Any
    last_id: str


def query_fingerprint(
    scope: Any, filters: Sequence[common_pb2.Filter], order: common_pb2.OrderBy
) -> str:
    parts = [scope, [(f.field, f.op, list(f.values)) for f in filters], order.field]
    raw = json.dumps([*parts, order.descending], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode_cursor(value: Any, last_id: str, kind: str, fingerprint: str) -> str:
    """``kind`` is "time" when ``value`` is a datetime (it travels as ISO 8601)."""
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"v": shown, "id": last_id, "k": kind, "q": fingerprint})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, fingerprint: str) -> Cursor | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        value, last_id, kind, query = data["v"], str(data["id"]), data["k"], data["q"]
        if kind == "time" and value is not None:
            value = datetime.fromisoformat(value)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is malformed; pass next_page_token unchanged") from None
    if query != fingerprint:
        raise InvalidArgument("page_token belongs to a different search; repeat the same filters")
    return Cursor(value, last_id)


def paginate(
    query: Select[Any], id_column: Any, sort: Any, descending: bool, cursor: Cursor | None
) -> Select[Any]:
    """Rows strictly after the cursor, in (sort, id) order."""
    if cursor is not None:
        value, last = cursor.value, cursor.last_id
        if descending:
            query = query.where(or_(sort < value, and_(sort == value, id_column < last)))
        else:
            query = query.where(or_(sort > value, and_(sort == value, id_column > last)))
    if descending:
        return query.order_by(sort.desc(), id_column.desc())
    return query.order_by(sort.asc(), id_column.asc())


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    *,
    id_column: Any,
    sort: Any,
    kind: str,
    descending: bool,
    page: common_pb2.PageRequest,
    fingerprint: str,
) -> tuple[list[Any], str]:
    """One page of ``query`` (selecting the entity) and the next page's token ("" at the end)."""
    size = page_size(page.page_size)
    cursor = decode_cursor(page.page_token, fingerprint)
    query = paginate(query.add_columns(sort), id_column, sort, descending, cursor)
    pairs = [(row[0], row[-1]) for row in await session.execute(query.limit(size + 1))]
    if len(pairs) <= size:
        return [row for row, _ in pairs], ""
    pairs = pairs[:size]
    last_row, last_value = pairs[-1]
    return [row for row, _ in pairs], encode_cursor(last_value, last_row.id, kind, fingerprint)
