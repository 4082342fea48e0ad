"""Structured search: filters to SQL, ordering, and keyset cursor pages that stay stable."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from aimass.common.v1 import common_pb2
from services.common.db import UtcDateTime
from services.common.errors import InvalidArgument
from services.registry import models

Op = common_pb2.Filter.Operator
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_FILTERS = 50
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
BIG = 1e308

Column = InstrumentedAttribute[Any]


@dataclass(frozen=True)
class SearchSpec:
    entity: type[models.Base]
    tag_kind: str
    text_fields: dict[str, Column]
    time_fields: dict[str, Column]
    number_fields: dict[str, Column] = field(default_factory=dict)
    with_metrics_and_params: bool = False


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size {requested} is out of range: use 1..{MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def _parse_time(value: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{what}: {value!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_number(value: str, what: str) -> float:
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


def _op_name(op: int) -> str:
    return Op.Name(op) if op in Op.values() else str(op)


def _compare(
    column: Any, op: int, values: Sequence[Any], what: str, text: bool = True
) -> ColumnElement[bool]:
    if op == Op.OPERATOR_IN:
        if not values:
            raise InvalidArgument(f"{what}: IN needs at least one value")
        return column.in_(list(values))
    if op not in COMPARISONS:
        raise InvalidArgument(f"{what}: operator {_op_name(op)} does not apply here")
    if op == Op.OPERATOR_CONTAINS and not text:
        raise InvalidArgument(f"{what}: CONTAINS applies to text fields only; use a range")
    if len(values) != 1:
        raise InvalidArgument(f"{what}: {_op_name(op)} takes exactly one value")
    return COMPARISONS[op](column, values[0])


def _normalise_text(name: str, values: Sequence[str]) -> list[str]:
    if name == "status":
        return [v.lower().removeprefix("run_status_") for v in values]
    if name == "visibility":
        return [v.lower().removeprefix("visibility_") for v in values]
    return list(values)


def _keyed(spec: SearchSpec, prefix: str, key: str) -> tuple[type[models.Base], Any]:
    """The side table holding metrics.<key>, params.<key> or tags.<key> and its row condition."""
    entity_id: Any = spec.entity.id  # type: ignore[attr-defined]
    if prefix == "tags":
        table: Any = models.Tag
        return table, and_(
            table.entity_kind == spec.tag_kind, table.entity_id == entity_id, table.key == key
        )
    table = models.LatestMetric if prefix == "metrics" else models.RunParam
    return table, and_(table.run_id == entity_id, table.key == key)


def _keyed_filter(spec: SearchSpec, flt: common_pb2.Filter) -> ColumnElement[bool]:
    prefix, _, key = flt.field.partition(".")
    if prefix in ("metrics", "params") and not spec.with_metrics_and_params or not key:
        raise InvalidArgument(f"filter field {flt.field!r} is not searchable here")
    table, condition = _keyed(spec, prefix, key)
    if flt.op == Op.OPERATOR_EXISTS:
        return exists().where(condition)
    column: Any
    numeric = prefix == "metrics" or (
        prefix == "params"
        and flt.op in (Op.OPERATOR_LT, Op.OPERATOR_LE, Op.OPERATOR_GT, Op.OPERATOR_GE)
    )
    if numeric:
        column = table.value if prefix == "metrics" else table.value_number  # type: ignore[attr-defined]
        values: list[Any] = [_parse_number(v, flt.field) for v in flt.values]
    else:
        column, values = table.value, list(flt.values)  # type: ignore[attr-defined]
    return exists().where(condition, _compare(column, flt.op, values, flt.field, not numeric))


def build_filter(spec: SearchSpec, flt: common_pb2.Filter) -> ColumnElement[bool]:
    if flt.op == Op.OPERATOR_UNSPECIFIED:
        raise InvalidArgument(f"filter on {flt.field!r} needs an operator")
    if flt.field.split(".", 1)[0] in ("metrics", "params", "tags"):
        return _keyed_filter(spec, flt)
    if flt.field in spec.text_fields:
        column = spec.text_fields[flt.field]
        return _compare(column, flt.op, _normalise_text(flt.field, flt.values), flt.field)
    if flt.field in spec.time_fields:
        times = [_parse_time(v, flt.field) for v in flt.values]
        return _compare(spec.time_fields[flt.field], flt.op, times, flt.field, text=False)
    if flt.field in spec.number_fields:
        numbers = [_parse_number(v, flt.field) for v in flt.values]
        return _compare(spec.number_fields[flt.field], flt.op, numbers, flt.field, text=False)
    known = sorted([*spec.text_fields, *spec.time_fields, *spec.number_fields, "tags.<key>"])
    if spec.with_metrics_and_params:
        known += ["metrics.<key>", "params.<key>"]
    raise InvalidArgument(f"unknown filter field {flt.field!r}; use one of {', '.join(known)}")


def sort_expression(spec: SearchSpec, order: common_pb2.OrderBy) -> tuple[Any, str]:
    """An expression that never yields NULL (missing values sort last) and its token type."""
    name = order.field or "created_at"
    prefix, _, key = name.partition(".")
    if prefix in ("metrics", "params") and spec.with_metrics_and_params and key:
        table, condition = _keyed(spec, prefix, key)
        value: Any = table.value if prefix == "metrics" else table.value_number  # type: ignore[attr-defined]
        sentinel = -BIG if order.descending else BIG
        return func.coalesce(select(value).where(condition).scalar_subquery(), sentinel), "number"
    if name in spec.time_fields:
        sentinel_time = FAR_PAST if order.descending else FAR_FUTURE
        return func.coalesce(spec.time_fields[name], literal(sentinel_time, UtcDateTime())), "time"
    if name == "name" and "name" in spec.text_fields:
        return spec.text_fields["name"], "text"
    allowed = ["name", *spec.time_fields]
    if spec.with_metrics_and_params:
        allowed += ["metrics.<key>", "params.<key>"]
    raise InvalidArgument(f"cannot order by {name!r}; use one of {', '.join(allowed)}")


@dataclass(frozen=True)
class Cursor:
    value: Any
    last_id: str


def _fingerprint(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_cursor(value: Any, last_id: str, kind: str, fingerprint: str) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"v": shown, "id": last_id, "k": kind, "q": fingerprint})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, fingerprint: str) -> Cursor | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        value, last_id, kind, query = data["v"], str(data["id"]), data["k"], data["q"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is malformed; pass next_page_token unchanged") from None
    if query != fingerprint:
        raise InvalidArgument("page_token belongs to a different search; repeat the same filters")
    if kind == "time":
        value = datetime.fromisoformat(value)
    return Cursor(value, last_id)


def paginate(
    query: Select[Any],
    id_column: Any,
    sort: Any,
    descending: bool,
    cursor: Cursor | None,
) -> Select[Any]:
    if cursor is not None:
        if descending:
            query = query.where(
                or_(sort < cursor.value, and_(sort == cursor.value, id_column < cursor.last_id))
            )
        else:
            query = query.where(
                or_(sort > cursor.value, and_(sort == cursor.value, id_column > cursor.last_id))
            )
    if descending:
        return query.order_by(sort.desc(), id_column.desc())
    return query.order_by(sort.asc(), id_column.asc())


@dataclass
class Page:
    rows: list[Any]
    next_token: str


async def run_search(
    session: Any,
    spec: SearchSpec,
    base: Select[Any],
    filters: Sequence[common_pb2.Filter],
    order_by: Sequence[common_pb2.OrderBy],
    page: common_pb2.PageRequest,
    scope: Any,
) -> Page:
    """``base`` selects the entity; ``scope`` is part of the fingerprint (e.g. the viewer)."""
    if len(filters) > MAX_FILTERS:
        raise InvalidArgument(f"{len(filters)} filters; use at most {MAX_FILTERS}")
    if len(order_by) > 1:
        raise InvalidArgument("order by one field at a time (ties break on id)")
    order = order_by[0] if order_by else common_pb2.OrderBy(field="created_at", descending=True)
    size = page_size(page.page_size)
    query = base
    for flt in filters:
        query = query.where(build_filter(spec, flt))
    sort, kind = sort_expression(spec, order)
    if kind == "text" and session.bind.dialect.name == "postgresql":
        # Byte order, as SQLite's BINARY collation, whatever the database's default collation.
        sort = sort.collate("C")
    fingerprint = _fingerprint(
        [scope, [(f.field, f.op, list(f.values)) for f in filters], order.field, order.descending]
    )
    cursor = decode_cursor(page.page_token, fingerprint)
    id_column = spec.entity.id  # type: ignore[attr-defined]
    query = paginate(query.add_columns(sort), id_column, sort, order.descending, cursor)
    result = await session.execute(query.limit(size + 1))
    pairs = [(row[0], row[-1]) for row in result]
    next_token = ""
    if len(pairs) > size:
        pairs = pairs[:size]
        last_row, last_value = pairs[-1]
        next_token = encode_cursor(last_value, last_row.id, kind, fingerprint)
    return Page([row for row, _ in pairs], next_token)
