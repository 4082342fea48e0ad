"""Quotas on a running gateway: 429 with Retry-After and RateLimit-*, token-wide and per model,
period quotas across a period change (injected clock), usage counters, the admin routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from services.common.errors import QuotaExceeded
from services.gateway.auth import Principal
from services.gateway.models import PeriodCounter, RateBucket
from services.gateway.quota import QuotaService
from services.gateway.quota_math import Gcra
from services.gateway.quota_shared import give_back_rate, read_tat, take_rate
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway

START = datetime(2026, 11, 28, 23, 59, 50, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path)) as running:
        yield running


@pytest.fixture
def clock(gateway: Gateway) -> Iterator[Clock]:
    fake = Clock()
    quotas: QuotaService = gateway.app.state.quotas
    real, quotas.clock = quotas.clock, fake
    yield fake
    quotas.clock = real


async def token(gateway: Gateway, scopes: tuple[str, ...] = ("read",)) -> tuple[str, str]:
    """(token id, secret) of a new token in project alpha."""
    response = await gateway.admin.post(
        "/api/v1/tokens", json={"name": "quota test", "project": "alpha", "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


async def set_quota(gateway: Gateway, token_id: str, model: str = "", **limits: Any) -> None:
    path = f"/api/v1/tokens/{token_id}/" + (f"quotas/{model}" if model else "quota")
    response = await gateway.admin.put(path, json=limits)
    assert response.status_code == 200, response.text


async def principal_of(gateway: Gateway, secret: str) -> Principal:
    principal: Principal = await gateway.app.state.tokens.authenticate(secret)
    return principal


async def test_a_burst_then_429_with_retry_after_and_ratelimit_headers(
    gateway: Gateway, clock: Clock
) -> None:
    token_id, secret = await token(gateway)
    await set_quota(gateway, token_id, rate_per_second=0.5, burst=3)
    client = gateway.as_token(secret)
    answers = [await client.get("/api/v1/whoami") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    first = answers[0].headers
    assert (first["ratelimit-limit"], first["ratelimit-remaining"]) == ("3", "2")
    assert first["ratelimit-policy"].startswith("3;w=6;")
    refused = answers[3]
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == "6"
    message = refused.json()["error"]["message"]
    assert "rate limit exceeded for this token" in message and "retry in 2.00 s" in message
    assert refused.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    clock.now += 1.9
    assert (await client.get("/api/v1/whoami")).status_code == 429
    clock.now += 0.1
    assert (await client.get("/api/v1/whoami")).status_code == 200
    assert (await client.get("/api/v1/whoami")).status_code == 429


async def test_a_model_quota_and_the_token_wide_one_both_apply(
    gateway: Gateway, clock: Clock
) -> None:
    token_id, secret = await token(gateway, ("predict", "read"))
    await set_quota(gateway, token_id, rate_per_second=1, burst=5)
    await set_quota(gateway, token_id, "iris", rate_per_second=1, burst=2)
    quotas: QuotaService = gateway.app.state.quotas
    principal = await principal_of(gateway, secret)
    await quotas.admit(principal, "iris")
    await quotas.admit(principal, "iris")
    with pytest.raises(QuotaExceeded, match="model 'iris' on this token") as refused:
        await quotas.admit(principal, "iris")
    assert refused.value.retry_after_seconds == pytest.approx(1.0)
    headers = await quotas.admit(principal, "wine")  # only the token-wide limit
    assert headers["RateLimit-Remaining"] == "2"
    await quotas.admit(principal, "")
    await quotas.admit(principal, "wine")
    with pytest.raises(QuotaExceeded, match="for this token"):
        await quotas.admit(principal, "wine")
    clock.now += 1
    await quotas.admit(principal, "iris")  # one second refilled both


async def test_a_refusal_charges_none_of_the_other_limits(gateway: Gateway, clock: Clock) -> None:
    token_id, secret = await token(gateway, ("predict",))
    await set_quota(gateway, token_id, rate_per_second=1, burst=2)
    await set_quota(gateway, token_id, "iris", period="day", period_limit=0)
    quotas: QuotaService = gateway.app.state.quotas
    principal = await principal_of(gateway, secret)
    for _ in range(3):
        with pytest.raises(QuotaExceeded, match="daily quota of 0 requests for model 'iris'"):
            await quotas.admit(principal, "iris")
    async with quotas.sessions() as session:
        bucket = await session.get(RateBucket, (token_id, ""))
    assert bucket is not None and bucket.tat <= clock.now  # charged, then given back
    await quotas.admit(principal, "wine")
    await quotas.admit(principal, "wine")
    with pytest.raises(QuotaExceeded, match="for this token"):
        await quotas.admit(principal, "wine")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_undoing_a_rate_charge_never_refunds_a_later_one(
    backend: str, tmp_path: Path
) -> None:
    db_url = await create_pg_database("aimass_undo") if backend == "postgresql" else ""
    try:
        async with running_gateway(gateway_settings(tmp_path, db_url)) as gateway:
            await _undo_keeps_later_charges(gateway.app.state.quotas)
    finally:
        if db_url:
            await drop_pg_database(db_url)


async def _undo_keeps_later_charges(quotas: QuotaService) -> None:
    gcra = Gcra(rate=10, burst=100)
    now = START
    async with quotas._engine.connect() as connection:
        mine = await take_rate(connection, "t", "", gcra, now, 5)
        assert mine is not None
        await give_back_rate(connection, "t", "", gcra, 5, mine)
        assert await read_tat(connection, "t", "") == pytest.approx(now)  # nobody came between
        mine = await take_rate(connection, "t", "", gcra, now, 5)
        theirs = await take_rate(connection, "t", "", gcra, now, 3)  # another replica's
        assert mine is not None and theirs is not None
        await give_back_rate(connection, "t", "", gcra, 5, mine)
        assert await read_tat(connection, "t", "") == theirs  # kept: 5 permits lost, none made


async def test_a_daily_quota_runs_out_and_the_next_day_opens(
    gateway: Gateway, clock: Clock
) -> None:
    token_id, secret = await token(gateway)
    await set_quota(gateway, token_id, period="day", period_limit=3)
    client = gateway.as_token(secret)
    statuses = [(await client.get("/api/v1/whoami")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await client.get("/api/v1/whoami")
    assert refused.headers["retry-after"] == "10"  # START is ten seconds before midnight
    assert "renews at 2026-11-29T00:00:00Z" in refused.json()["error"]["message"]
    assert refused.headers["ratelimit-policy"].startswith("3;w=86400;")
    clock.now += 10
    opened = await client.get("/api/v1/whoami")
    assert opened.status_code == 200 and opened.headers["ratelimit-remaining"] == "2"
    async with gateway.app.state.quotas.sessions() as session:
        counts = dict(
            (await session.execute(select(PeriodCounter.period_key, PeriodCounter.admitted))).all()
        )
    assert counts == {"2026-11-28": 3, "2026-11-29": 1}


async def test_usage_counts_requests_refusals_and_errors(gateway: Gateway, clock: Clock) -> None:
    token_id, secret = await token(gateway, ("predict", "read"))
    await set_quota(gateway, token_id, "iris", rate_per_second=1, burst=2)
    quotas: QuotaService = gateway.app.state.quotas
    principal = await principal_of(gateway, secret)
    for _ in range(3):
        assert (await gateway.as_token(secret).get("/api/v1/whoami")).status_code == 200
    for outcome in (True, False):
        await quotas.admit(principal, "iris")
        quotas.record(principal, "iris", ok=outcome)
    with pytest.raises(QuotaExceeded):
        await quotas.admit(principal, "iris")
    response = await gateway.admin.get(
        f"/api/v1/tokens/{token_id}/usage", params={"from": "2026-11-01", "to": "2026-11-30"}
    )
    assert response.status_code == 200, response.text
    rows = {row["model"]: row for row in response.json()["items"]}
    assert rows[""] | {"model": ""} == {
        "token_id": token_id,
        "model": "",
        "day": "2026-11-28",
        "requests": 3,
        "refused": 0,
        "errors": 0,
    }
    assert (rows["iris"]["requests"], rows["iris"]["refused"], rows["iris"]["errors"]) == (2, 1, 1)
    totals = (await gateway.admin.get("/api/v1/usage", params={"from": "2026-11-28"})).json()
    mine = [item for item in totals["items"] if item["token_id"] == token_id]
    assert {(item["model"], item["requests"]) for item in mine} == {("", 3), ("iris", 2)}
    assert mine[0]["token_name"] == "quota test"


async def test_tokens_without_quotas_cost_no_database_statement(gateway: Gateway) -> None:
    _, secret = await token(gateway)
    quotas: QuotaService = gateway.app.state.quotas
    principal = await principal_of(gateway, secret)
    assert await quotas.admit(principal, "iris") == {}  # loads (and caches) the empty config
    statements: list[str] = []
    engine = quotas.sessions.kw["bind"].sync_engine

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(50):
            assert await quotas.admit(principal, "iris") == {}
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == []


async def test_concurrent_requests_on_one_replica_get_exactly_the_burst(
    gateway: Gateway, clock: Clock
) -> None:
    token_id, secret = await token(gateway)
    await set_quota(gateway, token_id, rate_per_second=2000, burst=100)
    quotas: QuotaService = gateway.app.state.quotas
    principal = await principal_of(gateway, secret)
    outcomes = await asyncio.gather(
        *(quotas.admit(principal, "") for _ in range(300)), return_exceptions=True
    )
    admitted = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if not isinstance(o, dict))
    assert len(admitted) == 100  # leased several at a time, yet exactly the burst


async def test_unspent_period_permits_go_back_to_the_shared_counter(gateway: Gateway) -> None:
    token_id, secret = await token(gateway)
    await set_quota(gateway, token_id, period="month", period_limit=50_000)
    client = gateway.as_token(secret)
    for _ in range(20):
        assert (await client.get("/api/v1/whoami")).status_code == 200
    key = datetime.now(UTC).strftime("%Y-%m")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    counted = -1
    while counted != 20:
        assert loop.time() < deadline, f"the counter still says {counted}, 20 were admitted"
        await asyncio.sleep(0.2)
        async with gateway.app.state.quotas.sessions() as session:
            counted = await session.scalar(
                select(PeriodCounter.admitted).where(PeriodCounter.period_key == key)
            )
