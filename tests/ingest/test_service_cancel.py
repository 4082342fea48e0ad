"""Cancelling: a queued job ends at once; a running one is interrupted, its work discarded."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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


async def _run_status(handle: IngestHandle, project: str, run_id: str) -> rpb.Run:
    return await handle.registry.GetRun(
        rpb.GetRunRequest(project=project, id=run_id), metadata=META
    )


async def test_cancel_a_queued_job(
    extra_ingest: StartIngest, project: rpb.Project, tmp_path: object
) -> None:
    api = await extra_ingest(ingest_worker_enabled=False)
    url = (api.data_dir / "iris.csv").as_uri()
    job = await submit(api, project.name, file_recipe(url), "never")
    assert job.state == pb.INGEST_JOB_STATE_QUEUED
    cancelled = await api.stub.CancelIngestJob(
        pb.CancelIngestJobRequest(project=project.name, job_id=job.id, reason="changed my mind"),
        metadata=META,
    )
    assert cancelled.state == pb.INGEST_JOB_STATE_CANCELLED
    assert cancelled.error == "changed my mind"
    run = await _run_status(api, project.name, job.run_id)
    assert run.status == rpb.RUN_STATUS_CANCELLED
    # A worker that starts later takes the task off the queue and drops it.
    worker = await extra_ingest(**replica_of(api))
    await asyncio.sleep(2)
    again = await wait_for(worker, project.name, job.id)
    assert again.state == pb.INGEST_JOB_STATE_CANCELLED and again.attempt == 0
    assert await versions(worker, project.name, "never") == []
    info = await worker.server.worker.consumer.info()  # type: ignore[union-attr]
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_cancel_a_running_job(extra_ingest: StartIngest, project: rpb.Project) -> None:
    slow = await extra_ingest(ingest_test_job_delay_seconds=60)
    url = (slow.data_dir / "wine.csv").as_uri()
    job = await submit(slow, project.name, file_recipe(url), "interrupted")
    await wait_for(slow, project.name, job.id, (pb.INGEST_JOB_STATE_RUNNING,))
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await slow.stub.CancelIngestJob(
        pb.CancelIngestJobRequest(project=project.name, job_id=job.id), metadata=META
    )
    assert answer.state in (pb.INGEST_JOB_STATE_CANCELLING, pb.INGEST_JOB_STATE_CANCELLED)
    ended = await wait_for(slow, project.name, job.id, deadline=20)
    assert ended.state == pb.INGEST_JOB_STATE_CANCELLED
    assert loop.time() - started < 20
    run = await _run_status(slow, project.name, job.run_id)
    assert run.status == rpb.RUN_STATUS_CANCELLED
    assert await versions(slow, project.name, "interrupted") == []
    assert [k for k in await stored_keys(slow, "datasets/interrupted") if job.id in k] == []
    assert await slow.store.list_orphans(timedelta(0)) == []
    work = slow.settings.work_dir() / "jobs"
    assert not work.exists() or list(work.iterdir()) == []


async def test_cancel_an_ended_job_is_refused(ingest: IngestHandle, project: rpb.Project) -> None:
    import grpc
    import pytest

    url = (ingest.data_dir / "iris.csv").as_uri()
    job = await submit(ingest, project.name, file_recipe(url), "done")
    await wait_for(ingest, project.name, job.id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.CancelIngestJob(
            pb.CancelIngestJobRequest(project=project.name, job_id=job.id), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_cancel_between_attempts_removes_what_they_wrote(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    """Attempt 1 committed its parts, then failed transiently (or its worker died): the job waits
    for its next delivery. Cancelling it now must still remove those parts."""
    api = await extra_ingest(ingest_worker_enabled=False)
    job = await submit(api, project.name, file_recipe((api.data_dir / "iris.csv").as_uri()), "gap")
    prefix = f"datasets/gap/{job.id}-1"
    async with api.server.ingest.ctx.db.sessions() as session, session.begin():
        row = await session.get(models.IngestJob, job.id)
        assert row is not None
        row.output_prefixes, row.attempt = [prefix], 1
    await api.store.put_bytes(f"{prefix}/part-00000.parquet", b"attempt 1's part")
    answer = await api.stub.CancelIngestJob(
        pb.CancelIngestJobRequest(project=project.name, job_id=job.id, reason="not needed"),
        metadata=META,
    )
    assert answer.state in (pb.INGEST_JOB_STATE_CANCELLING, pb.INGEST_JOB_STATE_CANCELLED)
    worker = await extra_ingest(**replica_of(api))
    ended = await wait_for(worker, project.name, job.id)
    assert ended.state == pb.INGEST_JOB_STATE_CANCELLED
    assert ended.error == "not needed"
    assert await stored_keys(api, prefix) == []
    assert await versions(api, project.name, "gap") == []
    run = await _run_status(api, project.name, job.run_id)
    assert run.status == rpb.RUN_STATUS_CANCELLED


async def test_a_cancelled_job_whose_version_was_registered_reports_it(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    """The worker died after the registry made the version, and the job was cancelled meanwhile:
    the version is complete and visible, so it is the job's result and its parts stay."""
    api = await extra_ingest(ingest_worker_enabled=False)
    job = await submit(api, project.name, file_recipe((api.data_dir / "iris.csv").as_uri()), "late")
    prefix = f"datasets/late/{job.id}-1"
    async with api.server.ingest.ctx.db.sessions() as session, session.begin():
        row = await session.get(models.IngestJob, job.id)
        assert row is not None
        row.output_prefixes, row.attempt, row.state = [prefix], 1, "cancelling"
    made = await register_as_attempt(api, project.name, job, "late", prefix)
    worker = await extra_ingest(**replica_of(api))
    ended = await wait_for(worker, project.name, job.id)
    assert ended.state == pb.INGEST_JOB_STATE_SUCCEEDED, ended.error
    assert ended.result.dataset_version_id == made.id
    assert await api.store.exists(f"{prefix}/part-00000.parquet")
