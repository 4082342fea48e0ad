"""A trainer worker killed mid-job: over real NATS the job is redelivered to another worker, which
completes it; the run records both attempts and the model version is registered once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from tests.conftest import delete_streams, nats_url
from tests.trainer.service_fixtures import (
    META,
    Stack,
    StartTrainer,
    TrainerHandle,
    submit,
    train_spec,
    wait_run,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    """Jobs on a bus of their own, so the session's trainer does not take them."""
    name = f"x{uuid.uuid4().hex[:10]}"
    yield name
    await delete_streams(nats_url(), f"{name}_")


def _spawn_worker(api: TrainerHandle, log: Path, worker_id: str) -> subprocess.Popen[bytes]:
    settings = api.settings
    env = {
        **os.environ,
        "AIMASS_HOME": str(settings.home / worker_id),
        "AIMASS_TRAINER_PORT": "0",
        "AIMASS_STORE_URL": settings.resolved_store_url(),
        "AIMASS_NATS_URL": settings.nats_url,
        "AIMASS_BUS_NAMESPACE": settings.bus_namespace,
        "AIMASS_METRICS_ENABLED": "false",
        "AIMASS_GRPC_HOST": "127.0.0.1",
        "AIMASS_REGISTRY_ADDRESS": settings.registry_address,
        "AIMASS_TRAINER_ACK_WAIT_SECONDS": str(settings.trainer_ack_wait_seconds),
        "AIMASS_TRAINER_TEST_JOB_DELAY_SECONDS": "120",
        "AIMASS_TRAINER_WORKER_ID": worker_id,
        "AIMASS_TRAINER_THREADS": "1",
    }
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "services.trainer"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=handle,
        )


@pytest.mark.slow
async def test_killed_worker_job_completes_once_elsewhere(
    stack: Stack, extra_trainer: StartTrainer, namespace: str, tmp_path: Path
) -> None:
    api = await extra_trainer(trainer_worker_enabled=False, bus_namespace=namespace)
    spec = train_spec(
        "sklearn.logistic_regression",
        stack.datasets["cancer"],
        "target",
        output=tpb.ModelOutput(model="survivor-lr"),
        seed=4,
    )
    log = tmp_path / "doomed.log"
    doomed = _spawn_worker(api, log, "doomed")
    try:
        answered = await submit(api, stack.project, train=spec)
        running = await wait_run(
            stack, stack.project, answered.run_id, (rpb.RUN_STATUS_RUNNING,), 60
        )
        assert [a.worker for a in running.attempts] == ["doomed"], log.read_text()[-2000:]
        await asyncio.sleep(1.0)  # past ack_wait/3: the worker has sent in_progress heartbeats
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)
    await extra_trainer(bus_namespace=namespace, trainer_worker_id="survivor")
    run = await wait_run(stack, stack.project, answered.run_id, deadline=90)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert [(a.attempt, a.worker) for a in run.attempts] == [(1, "doomed"), (2, "survivor")]
    assert run.attempts[1].status == rpb.RUN_STATUS_FINISHED
    versions = await stack.registry.ListModelVersions(
        rpb.ListVersionsRequest(project=stack.project, parent="survivor-lr"), metadata=META
    )
    assert [v.source_run_id for v in versions.versions] == [run.id]
    keys = await api.store.list_keys("models/survivor-lr")
    assert {k.split("/")[2] for k in keys} == {f"{run.id}-2"}
