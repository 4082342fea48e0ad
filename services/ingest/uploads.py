"""Uploads: a file streamed in chunks into the store (never held whole), checked for size and
SHA-256, then usable as a source by its id until it expires."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import PurePosixPath

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.db import utcnow
from services.common.errors import AimassError, InvalidArgument
from services.common.store import PutResult
from services.common.validation import require
from services.ingest import convert, models
from services.ingest.context import IngestContext
from services.ingest.core import Caller, new_id

logger = logging.getLogger(__name__)

SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_FILE_NAME = 256


def stored_name(file_name: str) -> str:
    """The object name in the store: "data" plus the original's extensions (format detection)."""
    suffixes = PurePosixPath(file_name.replace("\\", "/")).suffixes[-2:]
    kept = "".join(s.lower() for s in suffixes if SUFFIX.fullmatch(s))
    return f"data{kept}"


def _validate_header(header: pb.UploadFileRequest.Header, limit: int) -> str:
    name = require(header.file_name, "header.file_name").strip()
    if len(name) > MAX_FILE_NAME or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidArgument(
            f"header.file_name must be a plain file name of at most {MAX_FILE_NAME} characters"
        )
    if header.size_bytes < 0:
        raise InvalidArgument("header.size_bytes cannot be negative")
    if header.size_bytes > limit:
        raise InvalidArgument(_too_large(header.size_bytes, limit))
    digest = header.sha256.lower().removeprefix("sha256:")
    if digest and not HEX64.fullmatch(digest):
        raise InvalidArgument("header.sha256 must be 64 hex digits (the file's SHA-256)")
    return digest


def _too_large(size: int, limit: int) -> str:
    return (
        f"the file is too large ({size} bytes); uploads are limited to {limit} bytes "
        "(AIMASS_INGEST_MAX_UPLOAD_BYTES): upload it in parts, or put it where ingest can read "
        "it by URL"
    )


class UploadService:
    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx

    async def upload(self, actor: str, requests: AsyncIterator[pb.UploadFileRequest]) -> pb.Upload:
        first = await anext(requests, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgument("the first message of an upload must be its header")
        header = first.header
        project = await self.ctx.registry.project(Caller(actor, header.project))
        limit = self.ctx.settings.ingest_max_upload_bytes
        digest = _validate_header(header, limit)
        upload_id = new_id()
        prefix = f"uploads/{project.id}/{upload_id}"
        name = stored_name(header.file_name)

        async def chunks() -> AsyncIterator[bytes]:
            received = 0
            async for message in requests:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument("only the first message of an upload is a header")
                received += len(message.chunk)
                if received > limit:
                    raise InvalidArgument(_too_large(received, limit))
                if header.size_bytes and received > header.size_bytes:
                    raise InvalidArgument(
                        f"the header declared {header.size_bytes} bytes but more arrived; "
                        "declare the file's real size (or 0 when unknown)"
                    )
                yield message.chunk

        async with self.ctx.store.staged(prefix) as stage:
            put = await stage.put_stream(name, chunks())
            if header.size_bytes and put.size != header.size_bytes:
                raise InvalidArgument(
                    f"the header declared {header.size_bytes} bytes but {put.size} arrived; "
                    "send the whole file"
                )
            if digest and put.digest != f"sha256:{digest}":
                raise InvalidArgument(
                    "the file's SHA-256 does not match header.sha256; it was damaged in transit "
                    "or the header is wrong: send it again"
                )
            await stage.commit()
        try:
            return await self._record(actor, project.id, upload_id, header.file_name, put)
        except BaseException:
            # not recorded (database down, caller gone): no row will ever let GC find the file
            await self._forget(prefix)
            raise

    async def _forget(self, prefix: str) -> None:
        try:
            await self.ctx.store.delete_prefix(prefix)
        except AimassError as exc:
            logger.warning("unrecorded upload %s not removed: %s", prefix, exc.message)

    async def _record(
        self, actor: str, project_id: str, upload_id: str, file_name: str, put: PutResult
    ) -> pb.Upload:
        ttl = timedelta(seconds=self.ctx.settings.ingest_upload_ttl_seconds)
        async with self.ctx.db.unit(Caller(actor)) as work:
            row = models.Upload(
                id=upload_id,
                project_id=project_id,
                file_name=file_name.strip(),
                store_key=put.key,
                size_bytes=put.size,
                sha256=put.digest.removeprefix("sha256:"),
                created_by=actor,
                expires_at=utcnow() + ttl,
            )
            work.session.add(row)
        return convert.upload(row)
