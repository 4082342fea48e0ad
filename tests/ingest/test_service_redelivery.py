"""A worker killed mid-job: over real NATS the job is redelivered to another worker, which
completes it exactly once; the job's attempt and the registry run record both deliveries."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.ingest import models
from tests.ingest.conftest import (
    META,
    IngestHandle,
    StartIngest,
    file_recipe,
    register_as_attempt,
    replica_of,
    stored_keys,
    submit,
    versions,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]


def _spawn_worker(
    api: IngestHandle, log: Path, worker_id: str, **extra_env: str
) -> subprocess.Popen[bytes]:
    settings = api.settings
    env = {
        **os.environ,
        "AIMASS_HOME": str(settings.home),
        "AIMASS_INGEST_PORT": "0",
        "AIMASS_INGEST_DB_URL": settings.db_url(),
        "AIMASS_STORE_URL": settings.resolved_store_url(),
        "AIMASS_NATS_URL": settings.nats_url,
        "AIMASS_BUS_NAMESPACE": settings.bus_namespace,
        "AIMASS_METRICS_ENABLED": "false",
        "AIMASS_GRPC_HOST": "127.0.0.1",
        "AIMASS_REGISTRY_ADDRESS": settings.registry_address,
        "AIMASS_INGEST_ALLOWED_URL_PREFIXES": json.dumps(settings.ingest_allowed_url_prefixes),
        "AIMASS_INGEST_ACK_WAIT_SECONDS": str(settings.ingest_ack_wait_seconds),
        "AIMASS_INGEST_TEST_JOB_DELAY_SECONDS": "120",
        "AIMASS_INGEST_WORKER_ID": worker_id,
        **extra_env,
    }
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "services.ingest"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=handle,
        )


async def _kill_mid_job(
    api: IngestHandle, project: rpb.Project, log: Path, dataset: str, **extra_env: str
) -> pb.IngestJob:
    """Submit a job, let a worker process start it, SIGKILL that worker."""
    doomed = _spawn_worker(api, log, "doomed", **extra_env)
    try:
        url = (api.data_dir / "diabetes.tsv").as_uri()
        job = await submit(api, project.name, file_recipe(url), dataset)
        running = await wait_for(api, project.name, job.id, (pb.INGEST_JOB_STATE_RUNNING,), 60)
        assert running.attempt == 1
        await asyncio.sleep(1.0)  # let it heartbeat past ack_wait at least once
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)
    return running


@pytest.mark.slow
async def test_killed_worker_job_completes_once_elsewhere(
    extra_ingest: StartIngest, project: rpb.Project, tmp_path: Path
) -> None:
    api = await extra_ingest(ingest_worker_enabled=False)
    job = await _kill_mid_job(api, project, tmp_path / "doomed.log", "survives")
    survivor = await extra_ingest(**replica_of(api, ingest_worker_id="survivor"))
    ended = await wait_for(survivor, project.name, job.id, deadline=60)
    assert ended.state == pb.INGEST_JOB_STATE_SUCCEEDED, ended.error
    assert ended.attempt == 2
    assert ended.result.row_count == 442
    (version,) = await versions(survivor, project.name, "survives")
    assert version.id == ended.result.dataset_version_id
    run = await survivor.registry.GetRun(
        rpb.GetRunRequest(project=project.name, id=ended.run_id), metadata=META
    )
    assert run.status == rpb.RUN_STATUS_FINISHED
    assert [(a.attempt, a.worker) for a in run.attempts] == [(1, "doomed"), (2, "survivor")]
    assert run.attempts[1].status == rpb.RUN_STATUS_FINISHED
    keys = await stored_keys(survivor, "datasets/survives")
    folders = {key.split("/")[2] for key in keys if job.id in key}
    assert folders == {f"{job.id}-2"}
    await asyncio.sleep(1)
    assert (await versions(survivor, project.name, "survives"))[0].id == version.id


async def test_transient_failures_are_retried_then_recorded(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    api = await extra_ingest(ingest_worker_enabled=False)
    await extra_ingest(
        **replica_of(
            api, registry_address="127.0.0.1:1", registry_timeout_seconds=2, ingest_max_deliver=2
        )
    )
    url = (api.data_dir / "iris.csv").as_uri()
    job = await submit(api, project.name, file_recipe(url), "unlucky")
    ended = await wait_for(api, project.name, job.id, deadline=30)
    assert ended.state == pb.INGEST_JOB_STATE_FAILED
    assert ended.attempt == 2
    assert "gave up after 2 attempts" in ended.error and "registry" in ended.error
    assert await versions(api, project.name, "unlucky") == []


async def test_a_version_registered_before_a_crash_is_not_made_twice(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    """The worker died after the registry made the version but before the job recorded it: the
    next delivery finds that version (by the job's run) instead of making a second one."""
    api = await extra_ingest(ingest_worker_enabled=False)
    url = (api.data_dir / "iris.csv").as_uri()
    job = await submit(api, project.name, file_recipe(url), "registered")
    prefix = f"datasets/registered/{job.id}-1"
    async with api.server.ingest.ctx.db.sessions() as session, session.begin():
        row = await session.get(models.IngestJob, job.id)
        assert row is not None
        row.output_prefixes = [prefix]
    made = await register_as_attempt(api, project.name, job, "registered", prefix)
    await extra_ingest(**replica_of(api))
    ended = await wait_for(api, project.name, job.id)
    assert ended.state == pb.INGEST_JOB_STATE_SUCCEEDED, ended.error
    assert ended.result.dataset_version_id == made.id
    assert [v.id for v in await versions(api, project.name, "registered")] == [made.id]
    assert await api.store.exists(f"{prefix}/part-00000.parquet")


@pytest.mark.slow
async def test_a_worker_killed_on_the_last_delivery_fails_the_job(
    extra_ingest: StartIngest, project: rpb.Project, tmp_path: Path
) -> None:
    """No delivery is left after the worker dies: the job must not stay RUNNING for ever. The next
    worker records it FAILED (the run too) and removes whatever the attempt wrote."""
    api = await extra_ingest(ingest_worker_enabled=False, ingest_max_deliver=1)
    job = await _kill_mid_job(
        api, project, tmp_path / "doomed.log", "unlucky-last", AIMASS_INGEST_MAX_DELIVER="1"
    )
    survivor = await extra_ingest(
        **replica_of(api, ingest_worker_id="survivor", ingest_max_deliver=1)
    )
    ended = await wait_for(survivor, project.name, job.id, deadline=30)
    assert ended.state == pb.INGEST_JOB_STATE_FAILED
    assert "gave up after 1 attempt" in ended.error and ended.attempt == 1
    run = await survivor.registry.GetRun(
        rpb.GetRunRequest(project=project.name, id=ended.run_id), metadata=META
    )
    assert run.status == rpb.RUN_STATUS_FAILED
    assert [(a.attempt, a.worker) for a in run.attempts] == [(1, "doomed")]
    assert await versions(survivor, project.name, "unlucky-last") == []
    assert [k for k in await stored_keys(survivor, "datasets/unlucky-last") if job.id in k] == []
    info = await survivor.server.worker.consumer.info()  # type: ignore[union-attr]
    assert info.num_pending == 0 and info.num_ack_pending == 0
