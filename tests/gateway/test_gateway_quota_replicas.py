"""Quotas hold across three real gateway processes sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.common.db import upgrade_database_async
from services.gateway.quota_math import Gcra
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.gateway_fixtures import ADMIN_SECRET, UNUSED_ADDRESS, free_port

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

REPLICAS = 3
WORKERS_PER_REPLICA = 4
HAMMER_SECONDS = 4.0
OVER_ADMISSION = 1.10


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0
    refusal: httpx.Response | None = None
    arrivals: list[float] = field(default_factory=list)  # midway between request and answer

    @property
    def admitted(self) -> int:
        return self.statuses[200]

    def ideal(self, gcra: Gcra) -> int:
        """What one perfect limiter in front of all replicas would admit of these arrivals."""
        tat, admitted = 0.0, 0
        for moment in sorted(self.arrivals):
            charged = gcra.charge(tat, moment, 1)
            if charged is not None:
                tat, admitted = charged, admitted + 1
        return admitted


def _environment(home: Path, port: int, db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIMASS_HOME=str(home),
        AIMASS_GATEWAY_HOST="127.0.0.1",
        AIMASS_GATEWAY_PORT=str(port),
        AIMASS_GATEWAY_DB_URL=db_url,
        AIMASS_ADMIN_TOKEN=ADMIN_SECRET,
        AIMASS_METRICS_ENABLED="false",
        AIMASS_LOG_LEVEL="WARNING",
    )
    for backend in ("REGISTRY", "INGEST", "TRAINER", "PREDICTOR", "MONITOR"):
        env[f"AIMASS_{backend}_ADDRESS"] = UNUSED_ADDRESS
    return env


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def _processes(home: Path, db_url: str) -> Iterator[list[Replica]]:
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for index in range(REPLICAS):
            port = free_port()
            with (home / f"gateway-{index}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.gateway"],
                        env=_environment(home / f"replica-{index}", port, db_url),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        yield [Replica(url, process) for url, process in zip(urls, processes, strict=True)]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _wait_ready(replicas: list[Replica], home: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        for replica in replicas:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{replica.url}/livez")).status_code == 200:
                        break
                running = replica.process.poll() is None and loop.time() < deadline
                logs = "\n".join(p.read_text() for p in sorted(home.glob("gateway-*.log")))
                assert running, f"a gateway replica did not start:\n{logs}"
                await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[str]]:
    home = tmp_path_factory.mktemp("replicas")
    db_url = await create_pg_database("aimass_quota")
    try:
        await upgrade_database_async("gateway", db_url)
        with _processes(home, db_url) as started:
            await _wait_ready(started, home)
            yield [replica.url for replica in started]
    finally:
        await drop_pg_database(db_url)


async def _token_with_quota(url: str, path: str, limits: dict[str, object]) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    async with httpx.AsyncClient(base_url=url, headers=admin, timeout=10) as client:
        issued = await client.post(
            "/api/v1/tokens", json={"name": "hammer", "project": "alpha", "scopes": ["read"]}
        )
        assert issued.status_code == 201, issued.text
        token_id, secret = issued.json()["id"], issued.json()["secret"]
        response = await client.put(f"/api/v1/tokens/{token_id}/{path}", json=limits)
        assert response.status_code == 200, response.text
    return token_id, secret


async def _hammer(urls: list[str], secret: str, seconds: float) -> Tally:
    """Concurrent clients on every replica calling as fast as they can for ``seconds``."""
    tally = Tally()
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {secret}"}

    async def worker(client: httpx.AsyncClient, stop: float) -> None:
        while (sent := loop.time()) < stop:
            response = await client.get("/api/v1/whoami")
            tally.arrivals.append((sent + loop.time()) / 2)
            tally.statuses[response.status_code] += 1
            if response.status_code == 429:
                tally.refusal = response

    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=10) for url in urls]
    try:
        start = loop.time()
        await asyncio.gather(
            *(
                worker(client, start + seconds)
                for client in clients
                for _ in range(WORKERS_PER_REPLICA)
            )
        )
        tally.elapsed = loop.time() - start
    finally:
        for client in clients:
            await client.aclose()
    return tally


async def _usage(url: str, token_id: str) -> tuple[int, int]:
    admin = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    async with httpx.AsyncClient(base_url=url, headers=admin, timeout=10) as client:
        items = (await client.get(f"/api/v1/tokens/{token_id}/usage")).json()["items"]
    return sum(item["requests"] for item in items), sum(item["refused"] for item in items)


@pytest.mark.parametrize(("rate", "burst"), [(20, 10), (40, 12)])
async def test_a_rate_limit_holds_across_three_replicas(
    replicas: list[str], rate: int, burst: int
) -> None:
    _, secret = await _token_with_quota(
        replicas[0], "quota", {"rate_per_second": rate, "burst": burst}
    )
    tally = await _hammer(replicas, secret, HAMMER_SECONDS)
    allowed = burst + rate * tally.elapsed
    ideal = tally.ideal(Gcra(rate, burst))
    logger.info(
        "rate %s/s burst %s: %s in %.2f s; admitted %d, %.3f of the %.0f allowed, %.3f of the "
        "%d one exact limiter would admit of these arrivals",
        rate,
        burst,
        dict(tally.statuses),
        tally.elapsed,
        tally.admitted,
        tally.admitted / allowed,
        allowed,
        tally.admitted / ideal,
        ideal,
    )
    assert set(tally.statuses) == {200, 429}
    assert tally.admitted <= OVER_ADMISSION * allowed
    assert tally.admitted >= 0.8 * ideal
    assert tally.refusal is not None
    assert 1 <= int(tally.refusal.headers["retry-after"]) <= 2
    assert tally.refusal.headers["ratelimit-remaining"] == "0"


async def test_a_daily_quota_holds_exactly_across_three_replicas(replicas: list[str]) -> None:
    token_id, secret = await _token_with_quota(
        replicas[1], "quota", {"period": "day", "period_limit": 60}
    )
    tally = await _hammer(replicas, secret, 2.0)
    assert tally.admitted == 60, tally.statuses
    assert tally.refusal is not None and "daily quota of 60" in tally.refusal.text
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    expected = (60, tally.statuses[429])
    while (counted := await _usage(replicas[2], token_id)) != expected:
        assert loop.time() < deadline, f"usage says {counted}, the clients saw {expected}"
        await asyncio.sleep(0.3)
