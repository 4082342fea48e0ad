"""Quotas: request rates (with bursts) and daily or monthly quotas per token, and per token and
model, shared by every gateway replica through the gateway's database; usage counters.

A replica charges a limit with one conditional statement in the database, leasing a few permits at
once when the rate is high, and spends the lease locally. A lease may leave permits unspent (the
token is admitted a little less) but a replica never admits more than the database granted it.
Tokens without quotas never reach the database here beyond the cached quota lookup."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.common.db import database_unavailable
from services.common.errors import QuotaExceeded
from services.common.ttl_cache import TtlCache
from services.gateway.auth import Principal
from services.gateway.models import Quota, Usage
from services.gateway.quota_math import Limits, checked_limits, rate_limit_headers
from services.gateway.quota_meters import Lease, Meter, MeterState, PeriodMeter, meters_for
from services.gateway.quota_store import QuotaRepository, UsageKey, UsageTotal

logger = logging.getLogger(__name__)

REQUESTS, REFUSED, ERRORS = range(3)
LOCK_STRIPES = 64
MAX_LEASE_ATTEMPTS = 4
IDLE_SECONDS = 10.0
SECONDS_PER_DAY = 86_400


class QuotaRefused(QuotaExceeded):
    """A 429 carrying its RateLimit-* headers."""

    def __init__(self, message: str, retry_after_seconds: float, headers: dict[str, str]) -> None:
        super().__init__(message, retry_after_seconds)
        self.headers = headers


@functools.lru_cache(maxsize=4)
def _day_named(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * SECONDS_PER_DAY, UTC).strftime("%Y-%m-%d")


def day_of(now: float) -> str:
    """The UTC date of epoch seconds ``now`` (on every request: formatted once a day)."""
    return _day_named(int(now // SECONDS_PER_DAY))


class QuotaService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        flush_seconds: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        config_seconds: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.flush_seconds = flush_seconds
        self.clock = clock  # epoch seconds; replicas need synchronised clocks (NTP)
        self.repository = QuotaRepository(sessions)
        # Shared-state statements autocommit: each holds its row lock for itself alone.
        engine: AsyncEngine = sessions.kw["bind"]
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._config: TtlCache[str, dict[str, Limits]] = TtlCache(config_seconds)
        self._states: dict[Meter, MeterState] = {}
        self._usage: dict[UsageKey, list[int]] = {}
        self._locks = [asyncio.Lock() for _ in range(LOCK_STRIPES)]
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="quota-flush")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        try:
            await self._give_back(self.clock(), everything=True)
            await self.flush()
        except (SQLAlchemyError, OSError):
            logger.warning("could not save quota state at shutdown", exc_info=True)

    async def admit(self, principal: Principal, model: str) -> dict[str, str]:
        """Charge one request; the RateLimit-* headers to send back, or QuotaRefused."""
        now = self.clock()
        meters = meters_for(principal.token_id, await self._quotas(principal.token_id), model, now)
        usage = UsageKey(principal.token_id, model, day_of(now))
        if meters:
            try:
                now = await self._charge(meters, now)
            except QuotaExceeded:
                self._count(usage, REFUSED)
                raise
        self._count(usage, REQUESTS)
        return rate_limit_headers([meter.window(self._state(meter), now) for meter in meters])

    def record(self, principal: Principal, model: str, ok: bool) -> None:
        """The outcome of an admitted request: failures are counted as errors."""
        if not ok:
            self._count(UsageKey(principal.token_id, model, day_of(self.clock())), ERRORS)

    async def flush(self) -> None:
        """Add the buffered usage counts to the database."""
        counts, self._usage = self._usage, {}
        try:
            await self.repository.add_usage(counts)
        except BaseException:
            for key, values in counts.items():
                self._add(key, values)
            raise

    # The admin side: quota rows and usage reports.

    async def quotas(self, token_id: str) -> list[Quota]:
        return await self.repository.quotas(token_id)

    async def set_quota(self, token_id: str, model: str, limits: Limits) -> Quota:
        row = await self.repository.put(token_id, model, checked_limits(limits))
        self._config.invalidate(token_id)
        return row

    async def delete_quota(self, token_id: str, model: str) -> bool:
        deleted = await self.repository.delete(token_id, model)
        self._config.invalidate(token_id)
        return deleted

    async def token_usage(self, token_id: str, first: date, last: date) -> list[Usage]:
        await self.flush()
        return await self.repository.token_usage(token_id, first.isoformat(), last.isoformat())

    async def project_usage(self, project: str, first: date, last: date) -> list[UsageTotal]:
        await self.flush()
        return await self.repository.project_usage(project, first.isoformat(), last.isoformat())

    # Charging.

    async def _quotas(self, token_id: str) -> dict[str, Limits]:
        return await self._config.get(token_id, lambda: self._load_quotas(token_id))

    async def _load_quotas(self, token_id: str) -> dict[str, Limits]:
        async with database_unavailable("quota store"):
            return await self.repository.limits_of(token_id)

    def _state(self, meter: Meter) -> MeterState:
        state = self._states.get(meter)
        if state is None:
            state = self._states[meter] = MeterState()
        return state

    async def _charge(self, meters: Sequence[Meter], now: float) -> float:
        """Spend one permit of every meter, leasing where none is left; the time charged at."""
        if self._try_spend(meters, now):
            return now
        async with self._locks[hash(meters[0].token_id) % LOCK_STRIPES]:
            for _ in range(MAX_LEASE_ATTEMPTS):
                now = self.clock()
                if self._try_spend(meters, now):
                    return now
                await self._lease([m for m in meters if not m.spare(self._state(m), now)], now)
        raise QuotaExceeded("too many concurrent requests on one quota; retry", 1.0)

    def _try_spend(self, meters: Sequence[Meter], now: float) -> bool:
        """All or nothing, without awaiting: a coroutine never sees another's half-spent set."""
        empty = [meter for meter in meters if not meter.spare(self._state(meter), now)]
        for meter in empty:
            if self._state(meter).blocked_until > now:
                raise self._refusal(meters, meter, now)
        if empty:
            return False
        for meter in meters:
            meter.spend(self._state(meter), now)
        return True

    async def _lease(self, meters: Sequence[Meter], now: float) -> None:
        """Lease permits for every meter; if one refuses, the others' charges are undone."""
        granted: list[tuple[Meter, Lease]] = []
        async with database_unavailable("quota store"), self._engine.connect() as connection:
            for meter in meters:
                outcome = await meter.lease(connection, self._state(meter), now)
                if isinstance(outcome, Lease):
                    granted.append((meter, outcome))
                    continue
                for done, lease in granted:
                    await done.undo(connection, lease)
                state = self._state(meter)
                state.shared, state.retry_at = outcome.shared, outcome.retry_at
                state.blocked_until = outcome.recheck_at
                raise self._refusal(meters, meter, now)
        for meter, lease in granted:
            state = self._state(meter)
            state.permits, state.used = lease.permits, 0
            state.shared, state.expires = lease.shared, lease.expires

    def _refusal(self, meters: Sequence[Meter], refused: Meter, now: float) -> QuotaRefused:
        retry_after = max(0.0, self._state(refused).retry_at - now)
        windows = [meter.window(self._state(meter), now) for meter in meters]
        # The shared state read for a refusal may already be stale; this request was refused.
        windows[meters.index(refused)] = replace(windows[meters.index(refused)], remaining=0)
        headers = rate_limit_headers(windows)
        return QuotaRefused(refused.refusal_message(retry_after), retry_after, headers)

    # Usage counters and housekeeping.

    def _count(self, key: UsageKey, column: int) -> None:
        self._add(key, [int(column == index) for index in range(3)])

    def _add(self, key: UsageKey, values: list[int]) -> None:
        counts = self._usage.setdefault(key, [0, 0, 0])
        for index, value in enumerate(values):
            counts[index] += value

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
                await self._give_back(self.clock())
            except (SQLAlchemyError, OSError):
                logger.warning("quota housekeeping failed; retrying", exc_info=True)

    async def _give_back(self, now: float, everything: bool = False) -> None:
        """Return period permits idle past their lease; forget meters idle for long."""
        for meter, state in list(self._states.items()):
            idle_lease = everything or now >= state.expires
            if isinstance(meter, PeriodMeter) and state.permits and idle_lease:
                permits, state.permits = state.permits, 0
                async with self._engine.connect() as connection:
                    await meter.give_back(connection, permits)
            idle = now >= max(state.expires, state.blocked_until) + IDLE_SECONDS
            if idle and not state.permits:
                self._states.pop(meter, None)
