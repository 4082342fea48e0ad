"""Streamed uploads over a real socket: a file far larger than the gateway's request-size limit
passes (chunk by chunk, never buffered whole) while a JSON body over the limit is 413; and the
SSE helper's keep-alives and end of stream."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Generator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from aimass.ingest.v1 import ingest_pb2 as ipb
from services.gateway.api.rest import sse_stream
from services.gateway.api.routes.uploads import CHUNK_BYTES, rechunk, stream_upload
from tests.gateway.data_fixtures import create_project, project_path, stack
from tests.gateway.gateway_fixtures import ADMIN_SECRET, gateway_settings, served_gateway
from tests.trainer.service_fixtures import Stack

__all__ = ["stack"]

LIMIT = 64 * 1024
PIECE = 64 * 1024


def _rows(count: int) -> list[bytes]:
    return [f"{i},{i * 0.5},label-{i % 7}\n".encode() for i in range(count)]


async def _body(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
        await asyncio.sleep(0)


@pytest.fixture
async def small_limit_gateway(stack: Stack, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings(
        tmp_path, registry_address=stack.registry_address, ingest_address=stack.ingest_address
    )
    settings = settings.model_copy(update={"gateway_max_body_bytes": LIMIT})
    async with (
        served_gateway(settings) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_SECRET}"}, timeout=60
        ) as client,
    ):
        yield client


async def test_a_streamed_upload_passes_the_size_limit(
    small_limit_gateway: httpx.AsyncClient,
) -> None:
    client = small_limit_gateway
    project = await create_project(client, "big")
    content = b"id,value,label\n" + b"".join(_rows(150_000))
    assert len(content) > 40 * LIMIT
    pieces = [content[i : i + PIECE] for i in range(0, len(content), PIECE)]
    params = {"file_name": "big.csv", "sha256": hashlib.sha256(content).hexdigest()}
    chunked = await client.post(
        project_path(project, "uploads"), params=params, content=_body(pieces)
    )
    assert chunked.status_code == 201, chunked.text
    assert int(chunked.json()["size_bytes"]) == len(content)
    declared = await client.post(
        project_path(project, "uploads"),
        params=params,
        content=_body(pieces),
        headers={"Content-Length": str(len(content))},
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["sha256"] == params["sha256"]

    too_big = {"name": "d", "description": "x" * (LIMIT + 1)}
    refused = await client.post(project_path(project, "datasets"), json=too_big)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_rechunk_regroups_pieces() -> None:
    pieces = [b"a" * 3, b"b" * 10, b"", b"c" * 2]
    chunks = [chunk async for chunk in rechunk(_body(pieces), size=4)]
    assert b"".join(chunks) == b"".join(pieces)
    assert [len(chunk) for chunk in chunks] == [4, 4, 4, 3]


class _FakeUploadCall:
    """A client-streaming call that consumes its requests in a task, as gRPC does."""

    def __init__(self, requests: AsyncIterator[ipb.UploadFileRequest]) -> None:
        self.received: list[ipb.UploadFileRequest] = []
        self.task = asyncio.ensure_future(self._consume(requests))

    async def _consume(self, requests: AsyncIterator[ipb.UploadFileRequest]) -> ipb.Upload:
        async for request in requests:
            self.received.append(request)
        return ipb.Upload(upload_id="u", size_bytes=sum(len(r.chunk) for r in self.received))

    def done(self) -> bool:
        return self.task.done()

    def cancel(self) -> None:
        self.task.cancel()

    def __await__(self) -> Generator[Any, None, ipb.Upload]:
        return self.task.__await__()


async def test_stream_upload_sends_the_header_then_chunks() -> None:
    calls: list[_FakeUploadCall] = []

    def method(requests: AsyncIterator[ipb.UploadFileRequest], **options: object) -> Any:
        calls.append(_FakeUploadCall(requests))
        return calls[0]

    header = ipb.UploadFileRequest.Header(project="p", file_name="f.csv")
    pieces = [b"x" * 700_000] * 3
    upload = await stream_upload(method, header, _body(pieces), timeout=5)
    assert upload.size_bytes == 2_100_000
    kinds = [request.WhichOneof("part") for request in calls[0].received]
    assert kinds == ["header", "chunk", "chunk", "chunk"]
    assert calls[0].received[0].header == header


async def test_a_client_leaving_mid_upload_cancels_the_call() -> None:
    calls: list[_FakeUploadCall] = []

    def method(requests: AsyncIterator[ipb.UploadFileRequest], **options: object) -> Any:
        calls.append(_FakeUploadCall(requests))
        return calls[0]

    async def leaving() -> AsyncIterator[bytes]:
        yield b"x" * CHUNK_BYTES
        raise ClientDisconnect

    with pytest.raises(HTTPException) as raised:
        await stream_upload(method, ipb.UploadFileRequest.Header(project="p"), leaving())
    assert raised.value.status_code == 499
    assert calls[0].task.cancelled()


async def _jobs(states: Sequence[ipb.IngestJobState], pause: float) -> AsyncIterator[ipb.IngestJob]:
    for state in states:
        await asyncio.sleep(pause)
        yield ipb.IngestJob(id="j", state=state)


async def _frames(response: object) -> list[bytes]:
    return [frame async for frame in response.body_iterator]  # type: ignore[attr-defined]


async def test_sse_keeps_alive_and_stops_at_the_final_state() -> None:
    states = [
        ipb.INGEST_JOB_STATE_QUEUED,
        ipb.INGEST_JOB_STATE_RUNNING,
        ipb.INGEST_JOB_STATE_SUCCEEDED,
        ipb.INGEST_JOB_STATE_RUNNING,  # never sent: the stream ended at the final state
    ]
    response = await sse_stream(
        _jobs(states, 0.05),
        lambda job: job.state == ipb.INGEST_JOB_STATE_SUCCEEDED,
        event="job",
        keepalive_seconds=0.01,
    )
    assert response.media_type == "text/event-stream"
    frames = await _frames(response)
    events = [frame for frame in frames if frame.startswith(b"event:")]
    assert [e.split(b'"state":"')[1].split(b'"')[0] for e in events] == [
        b"INGEST_JOB_STATE_QUEUED",
        b"INGEST_JOB_STATE_RUNNING",
        b"INGEST_JOB_STATE_SUCCEEDED",
    ]
    assert all(e.startswith(b"event: job\ndata: {") and e.endswith(b"}\n\n") for e in events)
    assert frames.count(b": keep-alive\n\n") >= 2
