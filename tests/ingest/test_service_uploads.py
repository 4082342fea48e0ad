"""UploadFile: streamed into the store in chunks, size and SHA-256 checked, nothing left behind
when an upload is refused."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.db import utcnow
from services.common.errors import Unavailable
from services.ingest import models
from tests.ingest.conftest import (
    META,
    IngestHandle,
    StartIngest,
    chunks_of,
    file_recipe,
    replica_of,
    submit,
    upload,
    wait_for,
)


async def test_upload_is_stored_with_its_digest(ingest: IngestHandle, project: rpb.Project) -> None:
    data = (ingest.data_dir / "wine.csv").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    staged = await upload(
        ingest, project.name, "wine (copy).CSV", data, size_bytes=len(data), sha256=digest
    )
    assert staged.size_bytes == len(data) and staged.sha256 == digest
    assert staged.file_name == "wine (copy).CSV"
    assert staged.expires_at.seconds > 0
    keys = await ingest.store.list_keys(f"uploads/{project.id}/{staged.upload_id}")
    assert [key.rsplit("/", 1)[1] for key in keys] == ["data.csv"]
    assert await ingest.store.get_bytes(keys[0]) == data


async def _refused_upload(
    handle: IngestHandle, project: rpb.Project, data: bytes, **header: object
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await upload(handle, project.name, "x.csv", data, **header)
    assert await handle.store.list_orphans(timedelta(0)) == []
    return info.value


async def test_refused_uploads_leave_nothing(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    small = await extra_ingest(ingest_max_upload_bytes=1000)
    before = await small.store.list_keys("uploads")
    declared = await _refused_upload(small, project, b"x" * 10, size_bytes=5000)
    assert declared.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1000 bytes" in declared.details()
    streamed = await _refused_upload(small, project, b"y" * 5000)
    assert streamed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "too large" in streamed.details()
    mismatch = await _refused_upload(small, project, b"abc", sha256="0" * 64)
    assert mismatch.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SHA-256" in mismatch.details()
    short = await _refused_upload(small, project, b"abc", size_bytes=10)
    assert short.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = [k for k in await small.store.list_keys("uploads") if f"/{project.id}/" in k]
    assert after == [k for k in before if f"/{project.id}/" in k]


async def test_upload_needs_a_header_first(ingest: IngestHandle, project: rpb.Project) -> None:
    async def requests() -> AsyncIterator[pb.UploadFileRequest]:
        for chunk in chunks_of(b"a,b\n1,2\n"):
            yield pb.UploadFileRequest(chunk=chunk)

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.UploadFile(requests(), metadata=META)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "header" in info.value.details()


async def test_an_upload_belongs_to_its_project(ingest: IngestHandle, project: rpb.Project) -> None:
    staged = await upload(
        ingest, project.name, "iris.csv", (ingest.data_dir / "iris.csv").read_bytes()
    )
    other = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-x"), metadata=META
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await submit(ingest, other.name, file_recipe(staged.upload_id), "stolen")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_expired_uploads_are_collected(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    brief = await extra_ingest(ingest_upload_ttl_seconds=0.5)
    staged = await upload(
        brief, project.name, "iris.csv", (brief.data_dir / "iris.csv").read_bytes()
    )
    await asyncio.sleep(1.0)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await submit(brief, project.name, file_recipe(staged.upload_id), "late")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "upload" in info.value.details()
    assert await brief.server.ingest.janitor.collect() >= 1
    assert await brief.store.list_keys(f"uploads/{project.id}/{staged.upload_id}") == []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await submit(brief, project.name, file_recipe(staged.upload_id), "late")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_queued_job_keeps_its_expired_upload(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    """The janitor keeps an upload a queued job needs past its expiry; the worker must then be
    able to read it (expiry is checked when the job is submitted, not when it runs)."""
    api = await extra_ingest(ingest_worker_enabled=False)
    data = (api.data_dir / "iris.csv").read_bytes()
    staged = await upload(api, project.name, "iris.csv", data)
    job = await submit(api, project.name, file_recipe(staged.upload_id), "kept")
    async with api.server.ingest.ctx.db.sessions() as session, session.begin():
        row = await session.get(models.Upload, staged.upload_id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert await api.server.ingest.janitor.collect() == 0
    worker = await extra_ingest(**replica_of(api))
    ended = await wait_for(worker, project.name, job.id)
    assert ended.state == pb.INGEST_JOB_STATE_SUCCEEDED, ended.error
    assert ended.result.row_count == 150
    assert await api.server.ingest.janitor.collect() == 1


async def test_an_upload_that_cannot_be_recorded_leaves_nothing(
    ingest: IngestHandle, project: rpb.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> pb.Upload:
        raise Unavailable("the ingest database is down")

    monkeypatch.setattr(ingest.server.ingest.uploads, "_record", broken)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await upload(ingest, project.name, "iris.csv", b"a,b\n1,2\n")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await ingest.store.list_keys(f"uploads/{project.id}") == []


async def test_more_bytes_than_declared_are_refused_at_once(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    """The stream stops as soon as it passes the declared size, not at its end (here: never)."""
    never_ends = asyncio.Event()

    async def requests() -> AsyncIterator[pb.UploadFileRequest]:
        yield pb.UploadFileRequest(
            header=pb.UploadFileRequest.Header(
                project=project.name, file_name="x.csv", size_bytes=10
            )
        )
        yield pb.UploadFileRequest(chunk=b"a" * 11)
        await never_ends.wait()

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.UploadFile(requests(), metadata=META, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "declared 10 bytes" in info.value.details()
    assert await ingest.store.list_orphans(timedelta(0)) == []
