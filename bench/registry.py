"""Registry benchmark: metric logging throughput and metric history reads on PostgreSQL.

    python bench/registry.py [--seconds 60] [--pg postgresql+asyncpg://postgres@127.0.0.1/test]

Starts a real registry process on a fresh PostgreSQL database and drives it over gRPC from this
process. Prints: points/s logging batches of 1,000 (one call in flight, and four), per-window rates
with their median; GetMetricHistory of 100,000 points (median of 5); and, in the same run, the
baseline of inserting the same batches straight into PostgreSQL with asyncpg, so the figures can be
read as ratios on a noisy machine. Targets (issue 2): >= 20,000 points/s; history < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aimass.registry.v1 import registry_pb2 as pb  # noqa: E402
from aimass.registry.v1 import registry_pb2_grpc  # noqa: E402
from bench._stack import free_port, service_process, wait_healthy  # noqa: E402
from services.common.db import upgrade_database_async  # noqa: E402
from tests.conftest import create_pg_database, drop_pg_database  # noqa: E402

BATCH = 1_000
HISTORY_POINTS = 100_000


def batch(step0: int) -> pb.LogMetricsRequest:
    request = pb.LogMetricsRequest()
    for i in range(BATCH):
        request.points.add(key="loss", value=1.0 / (step0 + i + 1), step=step0 + i)
    return request


async def log_for(
    stub: registry_pb2_grpc.RegistryServiceStub,
    project: str,
    run_id: str,
    seconds: float,
    in_flight: int,
) -> list[float]:
    """Points/s in consecutive windows of seconds/6, with ``in_flight`` concurrent callers."""
    window = seconds / 6
    counts = [0] * 6
    start = time.perf_counter()
    next_step = 0

    async def caller() -> None:
        nonlocal next_step
        while (elapsed := time.perf_counter() - start) < seconds:
            request = batch(next_step)
            next_step += BATCH
            request.project, request.run_id = project, run_id
            await stub.LogMetrics(request, timeout=30)
            counts[min(5, int((time.perf_counter() - start) / window))] += BATCH
            del elapsed

    await asyncio.gather(*(caller() for _ in range(in_flight)))
    return [count / window for count in counts]


async def history(stub: registry_pb2_grpc.RegistryServiceStub, project: str) -> list[float]:
    run = await stub.CreateRun(pb.CreateRunRequest(project=project, name="history"), timeout=10)
    for step0 in range(0, HISTORY_POINTS, 10_000):
        request = pb.LogMetricsRequest(project=project, run_id=run.id)
        for i in range(10_000):
            request.points.add(key="acc", value=i / 10_000, step=step0 + i)
        await stub.LogMetrics(request, timeout=60)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        reply = await stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(
                project=project, run_id=run.id, key="acc", page_size=HISTORY_POINTS
            ),
            timeout=60,
        )
        timings.append(time.perf_counter() - started)
        assert len(reply.steps) == HISTORY_POINTS, len(reply.steps)
    return timings


async def raw_insert_baseline(db_url: str, seconds: float) -> float:
    dsn = db_url.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TABLE bench_points (id bigserial primary key, run_id "
            "varchar(32), key varchar(250), step bigint, value float8, "
            "timestamp_ms bigint)"
        )
        await connection.execute("CREATE INDEX ON bench_points (run_id, key, step)")
        rows = 0
        start = time.perf_counter()
        step = 0
        while time.perf_counter() - start < seconds:
            now = int(time.time() * 1000)
            records = [("r", "loss", step + i, 1.0 / (step + i + 1), now) for i in range(BATCH)]
            step += BATCH
            async with connection.transaction():
                await connection.executemany(
                    "INSERT INTO bench_points (run_id, key, step, value, timestamp_ms) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    records,
                )
            rows += BATCH
        return rows / (time.perf_counter() - start)
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pg", default=os.environ.get("AIMASS_TEST_PG_URL", ""))
    options = parser.parse_args()
    if options.pg:
        os.environ["AIMASS_TEST_PG_URL"] = options.pg
    db_url = await create_pg_database("aimass_bench")
    home = Path(tempfile.mkdtemp(prefix="aimass-bench-"))
    port = free_port()
    env = {
        "AIMASS_HOME": str(home),
        "AIMASS_REGISTRY_PORT": str(port),
        "AIMASS_REGISTRY_DB_URL": db_url,
        "AIMASS_METRICS_ENABLED": "false",
        "AIMASS_BUS_NAMESPACE": f"b{uuid.uuid4().hex[:8]}",
        "AIMASS_LOG_LEVEL": "WARNING",
    }
    try:
        await upgrade_database_async("registry", db_url)
        with service_process("services.registry", env, home / "registry.log"):
            wait_healthy(f"127.0.0.1:{port}")
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = registry_pb2_grpc.RegistryServiceStub(channel)
                project = (
                    await stub.CreateProject(
                        pb.CreateProjectRequest(name=f"bench-{uuid.uuid4().hex[:6]}"), timeout=10
                    )
                ).name
                report = {}
                for in_flight in (1, 4):
                    run = await stub.CreateRun(pb.CreateRunRequest(project=project), timeout=10)
                    report[in_flight] = await log_for(
                        stub, project, run.id, options.seconds, in_flight
                    )
                timings = await history(stub, project)
        baseline = await raw_insert_baseline(db_url, min(options.seconds, 20.0))
    finally:
        await drop_pg_database(db_url)
    print(f"metric logging, batches of {BATCH}, {options.seconds:.0f} s each (PostgreSQL):")
    for in_flight, rates in report.items():
        print(
            f"  {in_flight} in flight: median {statistics.median(rates):,.0f} points/s  "
            f"windows {[round(r) for r in rates]}  "
            f"-> {statistics.median(rates) / baseline:.2f}x raw asyncpg insert"
        )
    print(f"  baseline, raw asyncpg executemany of the same batches: {baseline:,.0f} points/s")
    print(
        f"GetMetricHistory of {HISTORY_POINTS:,} points: median {statistics.median(timings):.3f} s"
        f"  runs {[round(t, 3) for t in timings]}"
    )


if __name__ == "__main__":
    asyncio.run(main())
