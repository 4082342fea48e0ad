"""The limiter's arithmetic: GCRA, calendar periods, lease sizes, RateLimit-* headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common.errors import InvalidArgument
from services.gateway.quota_math import (
    Gcra,
    Limits,
    Window,
    checked_limits,
    next_lease_size,
    period_bounds,
    period_lease_cap,
    rate_limit_headers,
)

T0 = 1_000_000.0


def admitted_at(gcra: Gcra, times: list[float]) -> list[float]:
    tat, admitted = 0.0, []
    for now in times:
        charged = gcra.charge(tat, now, 1)
        if charged is not None:
            tat = charged
            admitted.append(now)
    return admitted


def test_gcra_admits_the_burst_at_once_then_the_rate() -> None:
    gcra = Gcra(rate=10, burst=5)
    assert len(admitted_at(gcra, [T0] * 20)) == 5
    steady = [T0 + i * 0.01 for i in range(300)]  # 100 requests/s for 3 s
    assert len(admitted_at(gcra, steady)) == 5 + 29  # the burst, then 10/s over 2.99 s


def test_gcra_charges_several_permits_only_when_all_fit() -> None:
    gcra = Gcra(rate=4, burst=8)
    tat = gcra.charge(0.0, T0, 6)
    assert tat is not None and tat == pytest.approx(T0 + 1.5)
    assert gcra.charge(tat, T0, 3) is None
    assert gcra.charge(tat, T0, 2) == pytest.approx(T0 + 2.0)
    assert gcra.charge(0.0, T0, 9) is None


def test_gcra_retry_after_remaining_and_reset() -> None:
    gcra = Gcra(rate=2, burst=3)
    tat = T0
    for _ in range(3):
        next_tat = gcra.charge(tat, T0, 1)
        assert next_tat is not None
        tat = next_tat
    assert gcra.charge(tat, T0, 1) is None
    assert gcra.remaining(tat, T0) == 0
    assert gcra.retry_after(tat, T0) == pytest.approx(0.5)
    assert gcra.reset(tat, T0) == pytest.approx(1.5)
    assert gcra.charge(tat, T0 + 0.5, 1) is not None
    assert gcra.remaining(tat, T0 + 1.0) == 2
    assert gcra.remaining(tat, T0 + 100) == 3


@pytest.mark.parametrize(
    ("rate", "burst", "cap"), [(20, 10, 1), (1000, 100, 25), (1000, 1000, 50), (0.5, 1, 1)]
)
def test_rate_lease_is_small_and_never_above_a_quarter_of_the_burst(
    rate: float, burst: int, cap: int
) -> None:
    assert Gcra(rate, burst).lease_cap() == cap


def test_leases_grow_with_demand_up_to_the_cap() -> None:
    assert [next_lease_size(used, 50) for used in (0, 1, 2, 7, 40)] == [1, 2, 4, 14, 50]
    assert [period_lease_cap(limit) for limit in (0, 999, 5000, 10**9)] == [1, 1, 5, 100]


def test_day_and_month_periods_in_utc() -> None:
    now = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    key, start, end = period_bounds("day", now)
    assert key == "2026-12-31" and end - start == 86400 and end == now + 1
    key, start, end = period_bounds("month", now)
    assert key == "2026-12"
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 12, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_bounds("month", end)[0] == "2027-01"


def test_checked_limits_completes_the_burst() -> None:
    assert checked_limits(Limits(rate_per_second=2.5)).burst == 3
    assert checked_limits(Limits(rate_per_second=0.1)).burst == 1
    with pytest.raises(InvalidArgument, match="DELETE it"):
        checked_limits(Limits())  # a quota without a limit


@pytest.mark.parametrize(
    ("limits", "fragment"),
    [
        (Limits(burst=5), "burst needs rate_per_second"),
        (Limits(rate_per_second=-1), "must be between"),
        (Limits(rate_per_second=1e-9), "between"),
        (Limits(rate_per_second=1, burst=0), "at least 1"),
        (Limits(period="day"), "go together"),
        (Limits(period="week", period_limit=3), "one of"),
        (Limits(period="day", period_limit=-1), "0 or more"),
    ],
)
def test_checked_limits_refuses_nonsense(limits: Limits, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        checked_limits(limits)


def test_headers_describe_the_tightest_limit_and_list_every_policy() -> None:
    rate = Window(limit=10, remaining=7, reset=0.3, policy="10;w=1")
    period = Window(limit=1000, remaining=2, reset=4000.2, policy="1000;w=86400")
    headers = rate_limit_headers([rate, period])
    assert headers == {
        "RateLimit-Limit": "1000",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "4001",
        "RateLimit-Policy": "10;w=1, 1000;w=86400",
    }
    assert rate_limit_headers([]) == {}
