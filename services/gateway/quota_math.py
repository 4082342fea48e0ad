"""Quota arithmetic without I/O: GCRA rate limits, calendar periods, lease sizes and the
RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers). Times are epoch seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.errors import InvalidArgument

PERIODS = ("day", "month")
# A replica leases at most this many seconds' worth of a rate at once, spent within RATE_LEASE_TTL.
LEASE_SECONDS = 0.05
RATE_LEASE_TTL = 0.1
# Unspent period permits go back to the shared counter after this long without use.
PERIOD_LEASE_TTL = 1.0
# A replica that found a period used up asks the database again after this long (others may
# give leased permits back, an admin may raise the limit).
PERIOD_RECHECK_SECONDS = 1.0
MAX_PERIOD_LEASE = 100
# Float rounding must not refuse the last permit of a burst; a microsecond admits nobody extra.
SLACK = 1e-6
MIN_RATE, MAX_RATE = 1e-6, 1e6  # from one request in 11.6 days to a million per second


@dataclass(frozen=True)
class Limits:
    """One quota row: the limits of a token's requests, all of them or those to one model."""

    rate_per_second: float | None = None
    burst: int | None = None
    period: str | None = None
    period_limit: int | None = None

    @property
    def empty(self) -> bool:
        return self.rate_per_second is None and self.period is None


def checked_limits(limits: Limits) -> Limits:
    """The limits an admin asked for, completed (burst defaults to one second's worth)."""
    rate, burst = limits.rate_per_second, limits.burst
    if limits.empty and burst is None and limits.period_limit is None:
        raise InvalidArgument(
            "a quota needs rate_per_second (and burst) and/or period with period_limit; "
            "to lift a quota, DELETE it"
        )
    if rate is None and burst is not None:
        raise InvalidArgument("burst needs rate_per_second (the rate it refills at)")
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidArgument(f"rate_per_second must be between {MIN_RATE:g} and {MAX_RATE:g}")
    if rate is not None and burst is None:
        burst = max(1, math.ceil(rate))
    if burst is not None and burst < 1:
        raise InvalidArgument("burst must be at least 1 (requests admitted at once)")
    if (limits.period is None) != (limits.period_limit is None):
        raise InvalidArgument("period and period_limit go together: give both or neither")
    if limits.period is not None and limits.period not in PERIODS:
        raise InvalidArgument(f"period must be one of {list(PERIODS)}, not {limits.period!r}")
    if limits.period_limit is not None and limits.period_limit < 0:
        raise InvalidArgument("period_limit must be 0 or more")
    return Limits(rate, burst, limits.period, limits.period_limit)


@dataclass(frozen=True)
class Gcra:
    """Generic cell rate algorithm: the state is one number, the theoretical arrival time (tat)
    of the next request; a request fits when it would not push tat beyond now + burst/rate."""

    rate: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def ceiling(self, now: float) -> float:
        """The latest tat a charge may leave behind."""
        return now + self.burst * self.interval + SLACK

    def charge(self, tat: float, now: float, permits: int) -> float | None:
        """The new tat after admitting ``permits`` at once, or None when they do not fit."""
        new_tat = max(tat, now) + permits * self.interval
        return new_tat if new_tat <= self.ceiling(now) else None

    def remaining(self, tat: float, now: float) -> int:
        free = (self.ceiling(now) - max(tat, now)) / self.interval
        return max(0, min(self.burst, math.floor(free)))

    def retry_after(self, tat: float, now: float) -> float:
        """Seconds until one request fits again."""
        return max(0.0, tat - (self.burst - 1) * self.interval - now)

    def reset(self, tat: float, now: float) -> float:
        """Seconds until the whole burst is available again."""
        return max(0.0, tat - now)

    def lease_cap(self) -> int:
        return max(1, min(int(self.rate * LEASE_SECONDS), self.burst // 4))


def period_bounds(period: str, now: float) -> tuple[str, float, float]:
    """The UTC period ``now`` falls in: its key ("2026-11-28" or "2026-11"), start and end."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day.strftime("%Y-%m-%d"), day.timestamp(), (day + timedelta(days=1)).timestamp()
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.strftime("%Y-%m"), start.timestamp(), end.timestamp()


def period_lease_cap(limit: int) -> int:
    return max(1, min(limit // 1000, MAX_PERIOD_LEASE))


def next_lease_size(used_last: int, cap: int) -> int:
    """Lease twice what the last lease served (at least one): an idle token leases one permit,
    a busy one grows to the cap within a few leases."""
    return max(1, min(cap, 2 * used_last))


@dataclass(frozen=True)
class Window:
    """What one limit looks like to a client, for the RateLimit-* headers."""

    limit: int
    remaining: int
    reset: float  # seconds
    policy: str  # one RateLimit-Policy item


def rate_policy(gcra: Gcra, scope: str) -> str:
    window = max(1, math.ceil(gcra.burst / gcra.rate))
    return f'{gcra.burst};w={window};comment="{gcra.rate:g}/s, burst {gcra.burst}, {scope}"'


def period_policy(limit: int, period: str, seconds: float, scope: str) -> str:
    return f'{limit};w={round(seconds)};comment="per {period}, {scope}"'


def rate_limit_headers(windows: list[Window]) -> dict[str, str]:
    """The fields describe the limit closest to refusing; RateLimit-Policy lists every limit."""
    if not windows:
        return {}
    tightest = min(windows, key=lambda window: (window.remaining, -window.reset))
    return {
        "RateLimit-Limit": str(tightest.limit),
        "RateLimit-Remaining": str(tightest.remaining),
        "RateLimit-Reset": str(math.ceil(tightest.reset)),
        "RateLimit-Policy": ", ".join(window.policy for window in windows),
    }
