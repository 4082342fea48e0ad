"""Metric history: every point kept, the latest value per key kept fast to read.

Points go in with one multi-row INSERT per batch; ``latest_metrics`` is upserted so a point only
replaces the latest when its step is higher (or equal with a later timestamp), as MLflow does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.registry.v1 import registry_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.validation import validate_count, validate_key
from services.registry import models

MAX_POINTS_PER_CALL = 10_000
DEFAULT_HISTORY_PAGE = 10_000
MAX_HISTORY_PAGE = 200_000


@dataclass(frozen=True)
class Point:
    key: str
    value: float
    step: int
    timestamp_ms: int


class MetricStore:
    def validate(self, points: Sequence[pb.MetricPoint]) -> list[Point]:
        if not points:
            raise InvalidArgument("points is empty; send at least one metric point")
        validate_count(points, "metric points", MAX_POINTS_PER_CALL)
        now_ms = int(time.time() * 1000)
        checked_keys: set[str] = set()
        result = []
        for point in points:
            if point.key not in checked_keys:
                validate_key(point.key, "metric key")
                checked_keys.add(point.key)
            if point.step < 0:
                raise InvalidArgument(f"metric {point.key!r} has negative step {point.step}")
            if not math.isfinite(point.value):
                # SQLite cannot store NaN (it becomes NULL), and NaN would also upset ordering.
                raise InvalidArgument(
                    f"metric {point.key!r} at step {point.step} is {point.value}; values must be "
                    "finite numbers (skip the point, or record the divergence as a tag)"
                )
            stamp = point.timestamp.ToMilliseconds() if point.HasField("timestamp") else now_ms
            result.append(Point(point.key, point.value, point.step, stamp))
        return result

    async def append(
        self, session: AsyncSession, run_id: str, points: list[Point]
    ) -> dict[str, Point]:
        await session.execute(
            insert(models.MetricPoint),
            [
                {
                    "run_id": run_id,
                    "key": p.key,
                    "step": p.step,
                    "value": p.value,
                    "timestamp_ms": p.timestamp_ms,
                }
                for p in points
            ],
        )
        latest: dict[str, Point] = {}
        for point in points:
            best = latest.get(point.key)
            if best is None or (point.step, point.timestamp_ms) >= (best.step, best.timestamp_ms):
                latest[point.key] = point
        await self._upsert_latest(session, run_id, latest)
        return latest

    async def _upsert_latest(
        self, session: AsyncSession, run_id: str, latest: dict[str, Point]
    ) -> None:
        L = models.LatestMetric
        postgres = session.get_bind().dialect.name == "postgresql"
        dialect_insert = pg_insert if postgres else sqlite_insert
        statement = dialect_insert(L).values(
            [
                {
                    "run_id": run_id,
                    "key": p.key,
                    "value": p.value,
                    "step": p.step,
                    "timestamp_ms": p.timestamp_ms,
                }
                for p in latest.values()
            ]
        )
        newer = tuple_(statement.excluded.step, statement.excluded.timestamp_ms) >= tuple_(
            L.step, L.timestamp_ms
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[L.run_id, L.key],
                set_={
                    "value": statement.excluded.value,
                    "step": statement.excluded.step,
                    "timestamp_ms": statement.excluded.timestamp_ms,
                },
                where=newer,
            )
        )

    async def history(
        self, session: AsyncSession, run_id: str, request: pb.GetMetricHistoryRequest
    ) -> pb.GetMetricHistoryResponse:
        size = request.page_size or DEFAULT_HISTORY_PAGE
        if not 0 < size <= MAX_HISTORY_PAGE:
            raise InvalidArgument(f"page_size {size} is out of range: use 1..{MAX_HISTORY_PAGE}")
        M = models.MetricPoint
        query = (
            select(M.step, M.value, M.timestamp_ms, M.id)
            .where(M.run_id == run_id, M.key == request.key, M.step >= request.start_step)
            .order_by(M.step, M.timestamp_ms, M.id)
            .limit(size + 1)
        )
        after = _decode(request.page_token, run_id, request.key)
        if after is not None:
            query = query.where(tuple_(M.step, M.timestamp_ms, M.id) > after)
        rows = (await session.execute(query)).all()
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = _encode(run_id, request.key, rows[-1][0], rows[-1][2], rows[-1][3])
        response = pb.GetMetricHistoryResponse(key=request.key)
        if rows:
            steps, values, stamps, _ = zip(*rows, strict=True)
            response.steps.extend(steps)
            response.values.extend(values)
            response.timestamps_ms.extend(stamps)
        response.page.next_page_token = token
        return response


def _encode(run_id: str, key: str, step: int, stamp: int, row_id: int) -> str:
    raw = json.dumps([run_id, key, step, stamp, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, run_id: str, key: str) -> tuple[int, int, int] | None:
    if not token:
        return None
    try:
        token_run, token_key, step, stamp, row_id = json.loads(
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        )
        after = int(step), int(stamp), int(row_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is malformed; pass next_page_token unchanged") from None
    if (token_run, token_key) != (run_id, key):
        raise InvalidArgument("page_token belongs to another run or metric key")
    return after
