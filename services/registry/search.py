"""Structured search: filters to SQL, ordering, and keyset cursor pages that stay stable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute

from aimass.common.v1 import common_pb2
from services.common.db import UtcDateTime
from services.common.db.pages import (
    check_filter_count,
    compare,
    fetch_page,
    parse_number,
    parse_time,
    query_fingerprint,
)
from services.common.errors import InvalidArgument
from services.registry import models

Op = common_pb2.Filter.Operator
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
        values: list[Any] = [parse_number(v, flt.field) for v in flt.values]
    else:
        column, values = table.value, list(flt.values)  # type: ignore[attr-defined]
    return exists().where(condition, compare(column, flt.op, values, flt.field, not numeric))


def build_filter(spec: SearchSpec, flt: common_pb2.Filter) -> ColumnElement[bool]:
    if flt.op == Op.OPERATOR_UNSPECIFIED:
        raise InvalidArgument(f"filter on {flt.field!r} needs an operator")
    if flt.field.split(".", 1)[0] in ("metrics", "params", "tags"):
        return _keyed_filter(spec, flt)
    if flt.field in spec.text_fields:
        column = spec.text_fields[flt.field]
        return compare(column, flt.op, _normalise_text(flt.field, flt.values), flt.field)
    if flt.field in spec.time_fields:
        times = [parse_time(v, flt.field) for v in flt.values]
        return compare(spec.time_fields[flt.field], flt.op, times, flt.field, text=False)
    if flt.field in spec.number_fields:
        numbers = [parse_number(v, flt.field) for v in flt.values]
        return compare(spec.number_fields[flt.field], flt.op, numbers, flt.field, text=False)
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
    check_filter_count(filters)
    if len(order_by) > 1:
        raise InvalidArgument("order by one field at a time (ties break on id)")
    order = order_by[0] if order_by else common_pb2.OrderBy(field="created_at", descending=True)
    query = base
    for flt in filters:
        query = query.where(build_filter(spec, flt))
    sort, kind = sort_expression(spec, order)
    if kind == "text" and session.bind.dialect.name == "postgresql":
        # Byte order, as SQLite's BINARY collation, whatever the database's default collation.
        sort = sort.collate("C")
    rows, token = await fetch_page(
        session,
        query,
        id_column=spec.entity.id,  # type: ignore[attr-defined]
        sort=sort,
        kind=kind,
        descending=order.descending,
        page=page,
        fingerprint=query_fingerprint(scope, filters, order),
    )
    return Page(rows, token)
