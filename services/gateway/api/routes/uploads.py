"""/api/v1/projects/{project}/uploads: a file as the raw request body, streamed to ingest's
``UploadFile`` as it arrives (never held whole; exempt from the gateway's body-size limit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from aimass.ingest.v1 import ingest_pb2 as ipb
from services.gateway.api.deps import BackendsDep, DataWritePrincipal, ProjectPath, metadata
from services.gateway.protojson import render, response_schema

router = APIRouter(prefix="/api/v1", tags=["uploads"])

# Pieces of the body are gathered into gRPC messages of about this size (ingest takes up to 4 MiB).
CHUNK_BYTES = 1024 * 1024
# An upload lasts as long as the file takes to send; the deadline only bounds a stalled one.
UPLOAD_DEADLINE_SECONDS = 6 * 3600.0
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes, any content type (sent as is, in chunks).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def rechunk(pieces: AsyncIterable[bytes], size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """``pieces`` regrouped into chunks of ``size`` bytes (the last one shorter)."""
    buffer = bytearray()
    async for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _declared_size(request: Request) -> int:
    """Content-Length, or 0 (unknown: ingest enforces its limit while the bytes stream)."""
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


async def stream_upload(
    method: Callable[..., Any],
    header: ipb.UploadFileRequest.Header,
    body: AsyncIterable[bytes],
    **options: Any,
) -> ipb.Upload:
    """Call the client-streaming ``method`` with ``header``, then ``body`` in chunks."""
    calls: list[Any] = []
    disconnected = False

    async def requests() -> AsyncIterator[ipb.UploadFileRequest]:
        nonlocal disconnected
        yield ipb.UploadFileRequest(header=header)
        try:
            async for chunk in rechunk(body):
                # A write racing ingest's early answer (a refusal) can replace that status with
                # INTERNAL (grpc/grpc#36066): give the answer a turn to arrive, stop once it has.
                await asyncio.sleep(0)
                if calls[0].done():
                    return
                yield ipb.UploadFileRequest(chunk=chunk)
        except ClientDisconnect:
            disconnected = True
            calls[0].cancel()

    calls.append(method(requests(), **options))
    try:
        upload: ipb.Upload = await calls[0]
    except asyncio.CancelledError:
        if not disconnected:
            raise
        raise HTTPException(499, "the client closed the connection mid-upload") from None
    return upload


@router.post(
    "/projects/{project}/uploads",
    status_code=201,
    summary="Upload a file for ingest (streamed; its upload_id is then a file source)",
    description="Send the file as the raw body; `Content-Length` lets ingest refuse a file over "
    "its limit before any byte is stored. With `sha256`, a mismatch fails the upload. Uploads "
    "that no job uses expire (`expires_at`).",
    openapi_extra=UPLOAD_BODY,
    responses=response_schema(ipb.Upload, 201),
)
async def upload_file(
    project: ProjectPath,
    request: Request,
    principal: DataWritePrincipal,
    backends: BackendsDep,
    file_name: Annotated[
        str, Query(min_length=1, max_length=1024, description="Its extension helps detection.")
    ],
    sha256: Annotated[str, Query(max_length=80, description="Hex SHA-256 of the file.")] = "",
) -> JSONResponse:
    principal.check_project(project)
    header = ipb.UploadFileRequest.Header(
        project=project, file_name=file_name, size_bytes=_declared_size(request), sha256=sha256
    )
    upload = await stream_upload(
        backends.ingest.UploadFile,
        header,
        request.stream(),
        metadata=metadata(principal),
        timeout=UPLOAD_DEADLINE_SECONDS,
    )
    return render(upload, 201)
