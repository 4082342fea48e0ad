"""Structured filters and keyset pages for ingest's lists (jobs, sources), on the shared kit
(services.common.db.pages): the same contract as the registry's searches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from services.common.db.pages import (
    Op,
    check_filter_count,
    compare,
    fetch_page,
    parse_time,
    query_fingerprint,
)
from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class ListSpec:
    id_column: Any
    text_fields: dict[str, Any]
    time_fields: dict[str, Any]
    normalise: Callable[[str, str], str] = lambda _field, value: value


def build_filter(spec: ListSpec, flt: common_pb2.Filter) -> ColumnElement[bool]:
    if flt.op not in Op.values() or flt.op == Op.OPERATOR_UNSPECIFIED:
        raise InvalidArgument(f"filter on {flt.field!r} needs an operator")
    if flt.field in spec.text_fields:
        values: list[Any] = [spec.normalise(flt.field, v) for v in flt.values]
        return compare(spec.text_fields[flt.field], flt.op, values, flt.field)
    if flt.field in spec.time_fields:
        times = [parse_time(v, flt.field) for v in flt.values]
        return compare(spec.time_fields[flt.field], flt.op, times, flt.field, text=False)
    known = sorted([*spec.text_fields, *spec.time_fields])
    raise InvalidArgument(f"unknown filter field {flt.field!r}; use one of {', '.join(known)}")


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
    check_filter_count(filters)
    query = base
    for flt in filters:
        query = query.where(build_filter(spec, flt))
    return await fetch_page(
        session,
        query,
        id_column=spec.id_column,
        sort=sort_column,
        kind="text" if order.field == "name" else "time",
        descending=order.descending,
        page=page,
        fingerprint=query_fingerprint(scope, filters, order),
    )
