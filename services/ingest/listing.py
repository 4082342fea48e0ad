"""Structured filters and keyset cursor pages for ingest's lists (jobs, sources).

The same contract as the registry's searches (services/registry/search.py): filters never splice
text into SQL, order by one field with ties broken on id, and a page token only continues the
search it came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
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


@dataclass(frozen=True)
class ListSpec:
    id_column: Any
    text_fields: dict[str, Any]
    time_fields: dict[str, Any]
    normalise: Callable[[str, str], str] = lambda _field, value: value


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size {requested} is out of range: use 1..{MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def _time(value: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{what}: {value!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(column: Any, flt: common_pb2.Filter, values: list[Any], text: bool) -> Any:
    op, what = flt.op, flt.field
    if op == Op.OPERATOR_IN:
        if not values:
            raise InvalidArgument(f"{what}: IN needs at least one value")
        return column.in_(values)
    if len(values) != 1:
        raise InvalidArgument(f"{what}: this operator takes exactly one value")
    value = values[0]
    if op == Op.OPERATOR_CONTAINS and text:
        return func.lower(column).contains(str(value).lower(), autoescape=True)
    comparisons: dict[int, Callable[[Any, Any], Any]] = {
        Op.OPERATOR_EQ: lambda c, v: c == v,
        Op.OPERATOR_NE: lambda c, v: c != v,
        Op.OPERATOR_LT: lambda c, v: c < v,
        Op.OPERATOR_LE: lambda c, v: c <= v,
        Op.OPERATOR_GT: lambda c, v: c > v,
        Op.OPERATOR_GE: lambda c, v: c >= v,
    }
    if op not in comparisons:
        raise InvalidArgument(f"{what}: operator {Op.Name(op)} does not apply here")
    return comparisons[op](column, value)


def build_filter(spec: ListSpec, flt: common_pb2.Filter) -> ColumnElement[bool]:
    if flt.op not in Op.values() or flt.op == Op.OPERATOR_UNSPECIFIED:
        raise InvalidArgument(f"filter on {flt.field!r} needs an operator")
    if flt.field in spec.text_fields:
        values: list[Any] = [spec.normalise(flt.field, v) for v in flt.values]
        return _compare(spec.text_fields[flt.field], flt, values, text=True)
    if flt.field in spec.time_fields:
        times = [_time(v, flt.field) for v in flt.values]
        return _compare(spec.time_fields[flt.field], flt, times, text=False)
    known = sorted([*spec.text_fields, *spec.time_fields])
    raise InvalidArgument(f"unknown filter field {flt.field!r}; use one of {', '.join(known)}")


def _encode(value: Any, last_id: str, fingerprint: str) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"v": shown, "id": last_id, "q": fingerprint})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str, fingerprint: str, is_time: bool) -> tuple[Any, str] | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        value, last_id, query = data["v"], str(data["id"]), data["q"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is malformed; pass next_page_token unchanged") from None
    if query != fingerprint:
        raise InvalidArgument("page_token belongs to a different list; repeat the same filters")
    return (_time(value, "page_token") if is_time and value is not None else value), last_id


def _fingerprint(
    scope: str, filters: Sequence[common_pb2.Filter], order: common_pb2.OrderBy
) -> str:
    parts = [scope, [(f.field, f.op, list(f.values)) for f in filters], order.field]
    return hashlib.sha256(json.dumps([*parts, order.descending]).encode()).hexdigest()[:16]


def _after(sort: Any, ident: Any, value: Any, last_id: str, descending: bool) -> Any:
    """Rows strictly after the cursor in the list's order (sort value, then id)."""
    if descending:
        return or_(sort < value, and_(sort == value, ident < last_id))
    return or_(sort > value, and_(sort == value, ident > last_id))


async def list_page(
    session: AsyncSession,
    spec: ListSpec,
    base: Select[Any],
    filters: Sequence[common_pb2.Filter],
    order: common_pb2.OrderBy,
    sort_column: Any,
    page: common_pb2.PageRequest,
    scope: str,
) -> tuple[list[Any], str]:
    """One page of ``base`` filtered and ordered by ``sort_column`` (never null), then id."""
    if len(filters) > MAX_FILTERS:
        raise InvalidArgument(f"{len(filters)} filters; use at most {MAX_FILTERS}")
    size = page_size(page.page_size)
    query = base
    for flt in filters:
        query = query.where(build_filter(spec, flt))
    fingerprint = _fingerprint(scope, filters, order)
    cursor = _decode(page.page_token, fingerprint, order.field != "name")
    ident = spec.id_column
    if cursor is not None:
        query = query.where(_after(sort_column, ident, *cursor, order.descending))
    if order.descending:
        query = query.order_by(sort_column.desc(), ident.desc())
    else:
        query = query.order_by(sort_column.asc(), ident.asc())
    result = await session.execute(query.add_columns(sort_column).limit(size + 1))
    pairs = [(row[0], row[-1]) for row in result]
    token = ""
    if len(pairs) > size:
        pairs = pairs[:size]
        token = _encode(pairs[-1][1], pairs[-1][0].id, fingerprint)
    return [row for row, _ in pairs], token
