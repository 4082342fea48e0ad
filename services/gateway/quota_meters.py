"""Meters: one limit of one token as a replica charges it, a rate bucket or the current period's
counter, with the replica's local state (its lease of permits, what it last saw shared)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.models import ALL_MODELS
from services.gateway.quota_math import (
    PERIOD_LEASE_TTL,
    PERIOD_RECHECK_SECONDS,
    RATE_LEASE_TTL,
    Gcra,
    Limits,
    Window,
    next_lease_size,
    period_bounds,
    period_lease_cap,
    period_policy,
    rate_policy,
)
from services.gateway.quota_shared import (
    give_back_period,
    give_back_rate,
    read_admitted,
    read_tat,
    take_period,
    take_rate,
)

ADJECTIVE = {"day": "daily", "month": "monthly"}


@dataclass
class MeterState:
    """What one replica holds of one meter."""

    permits: int = 0  # leased from the database, not yet spent
    used: int = 0  # spent from the current lease (sizes the next one)
    expires: float = 0.0  # rate: the lease is void after; period: unspent permits go back after
    shared: float = 0.0  # the tat (rate) or count (period) the database last showed
    blocked_until: float = 0.0  # refuse without asking the database until then
    retry_at: float = 0.0


@dataclass(frozen=True)
class Lease:
    permits: int
    shared: float
    expires: float


@dataclass(frozen=True)
class Refusal:
    shared: float
    retry_at: float
    recheck_at: float


def scope_of(model: str) -> str:
    return "this token" if model == ALL_MODELS else f"model {model!r} on this token"


@dataclass(frozen=True)
class RateMeter:
    token_id: str
    model: str
    gcra: Gcra

    def spare(self, state: MeterState, now: float) -> int:
        return state.permits if now < state.expires else 0

    def spend(self, state: MeterState, now: float) -> None:
        state.permits -= 1
        state.used += 1

    async def lease(
        self, connection: AsyncConnection, state: MeterState, now: float
    ) -> Lease | Refusal:
        size = next_lease_size(state.used, self.gcra.lease_cap())
        key = (self.token_id, self.model)
        tat = await take_rate(connection, *key, self.gcra, now, size)
        if tat is not None:
            return Lease(size, tat, now + RATE_LEASE_TTL)
        tat = await read_tat(connection, *key)
        fewer = min(size - 1, self.gcra.remaining(tat, now))  # what may still be there
        if fewer > 0:
            taken = await take_rate(connection, *key, self.gcra, now, fewer)
            if taken is not None:
                return Lease(fewer, taken, now + RATE_LEASE_TTL)
            tat = await read_tat(connection, *key)  # another replica was quicker
        retry_at = now + self.gcra.retry_after(tat, now)
        return Refusal(tat, retry_at, retry_at)

    async def undo(self, connection: AsyncConnection, lease: Lease) -> None:
        """Take back a lease just granted (another meter of the request refused)."""
        key = (self.token_id, self.model)
        await give_back_rate(connection, *key, self.gcra, lease.permits, lease.shared)

    def window(self, state: MeterState, now: float) -> Window:
        remaining = self.gcra.remaining(state.shared, now) + self.spare(state, now)
        return Window(
            limit=self.gcra.burst,
            remaining=min(self.gcra.burst, remaining),
            reset=self.gcra.reset(state.shared, now),
            policy=rate_policy(self.gcra, scope_of(self.model)),
        )

    def refusal_message(self, retry_after: float) -> str:
        return (
            f"rate limit exceeded for {scope_of(self.model)}: {self.gcra.rate:g} requests per "
            f"second with bursts of {self.gcra.burst}; retry in {retry_after:.2f} s"
        )


@dataclass(frozen=True)
class PeriodMeter:
    token_id: str
    model: str
    period: str
    period_key: str
    limit: int
    start: float
    end: float

    def spare(self, state: MeterState, now: float) -> int:
        return state.permits  # charged for this period: valid until given back

    def spend(self, state: MeterState, now: float) -> None:
        state.permits -= 1
        state.used += 1
        state.expires = now + PERIOD_LEASE_TTL

    async def lease(
        self, connection: AsyncConnection, state: MeterState, now: float
    ) -> Lease | Refusal:
        size = next_lease_size(state.used, period_lease_cap(self.limit))
        key = (self.token_id, self.model, self.period_key)
        count = await take_period(connection, *key, self.limit, size)
        if count is not None:
            return Lease(size, count, now + PERIOD_LEASE_TTL)
        count = await read_admitted(connection, *key)
        fewer = min(size - 1, self.limit - count)
        if fewer > 0:
            taken = await take_period(connection, *key, self.limit, fewer)
            if taken is not None:
                return Lease(fewer, taken, now + PERIOD_LEASE_TTL)
            count = await read_admitted(connection, *key)  # another replica was quicker
        return Refusal(count, self.end, min(self.end, now + PERIOD_RECHECK_SECONDS))

    async def give_back(self, connection: AsyncConnection, permits: int) -> None:
        await give_back_period(connection, self.token_id, self.model, self.period_key, permits)

    async def undo(self, connection: AsyncConnection, lease: Lease) -> None:
        """Take back a lease just granted (another meter of the request refused)."""
        await self.give_back(connection, lease.permits)

    def window(self, state: MeterState, now: float) -> Window:
        remaining = max(0, self.limit - int(state.shared)) + state.permits
        return Window(
            limit=self.limit,
            remaining=min(self.limit, remaining),
            reset=max(0.0, self.end - now),
            policy=period_policy(
                self.limit, self.period, self.end - self.start, scope_of(self.model)
            ),
        )

    def refusal_message(self, retry_after: float) -> str:
        renews = datetime.fromtimestamp(self.end, UTC).isoformat().replace("+00:00", "Z")
        return (
            f"the {ADJECTIVE[self.period]} quota of {self.limit} requests for "
            f"{scope_of(self.model)} is used up; it renews at {renews} "
            f"(retry in {math.ceil(retry_after)} s)"
        )


Meter = RateMeter | PeriodMeter


def meters_for(token_id: str, quotas: dict[str, Limits], model: str, now: float) -> list[Meter]:
    """The limits a request to ``model`` ("" = no model) is charged against: the token-wide
    row's and the model's own."""
    meters: list[Meter] = []
    for key in dict.fromkeys((ALL_MODELS, model)):
        limits = quotas.get(key)
        if limits is None:
            continue
        if limits.rate_per_second is not None and limits.burst is not None:
            meters.append(RateMeter(token_id, key, Gcra(limits.rate_per_second, limits.burst)))
        if limits.period is not None and limits.period_limit is not None:
            period_key, start, end = period_bounds(limits.period, now)
            meters.append(
                PeriodMeter(
                    token_id, key, limits.period, period_key, limits.period_limit, start, end
                )
            )
    return meters
