"""The artifact store: write-once objects over fsspec, file:// (default) or s3://, for asyncio.

Layout (DESIGN.md §4): ``datasets/<name>/<version>/part-*.parquet``, ``models/<name>/<version>/``,
``runs/<run_id>/``, content-addressed ``blobs/sha256/<ab>/<hex>``, and the reserved ``_staging/``
for writes in flight. An object is written once and never overwritten: writing an existing key
succeeds only when the bytes are identical (an idempotent retry), else AlreadyExists. Writes are
atomic (see :mod:`services.common.store_io`); multi-file writes go through ``staged()``.

Every method is a coroutine that runs the blocking fsspec call in a worker thread with
``asyncio.to_thread``, so the event loop stays free; only ``open_read`` is blocking (for pyarrow
and friends, to be called from a thread). Memory stays bounded: data moves in chunks of
``CHUNK_SIZE`` (1 MiB) and S3 multipart parts of ``S3_BLOCK_SIZE`` (8 MiB).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import fsspec

from services.common import store_io
from services.common.errors import InvalidArgument, NotFound, Unavailable
from services.common.hashing import CHUNK_SIZE, Buffer, hash_bytes, iter_path, list_tree
from services.common.hashing import tree_digest as _tree_digest
from services.common.store_keys import (
    BLOBS,
    STAGING,
    StoreRoot,
    blob_key,
    join_key,
    new_staging_key,
    parse_store_url,
    s3_options_from_env,
    staging_created_at,
    validate_key,
    validate_prefix,
)
from services.common.store_stage import PutResult, Stage, TreeResult

if TYPE_CHECKING:
    from services.common.settings import CommonSettings

__all__ = ["ArtifactStore", "PutResult", "Stage", "TreeResult", "blob_key", "s3_options_from_env"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Chunks = Iterable[Buffer] | AsyncIterable[Buffer]


class ArtifactStore:
    def __init__(self, url: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
        self._root: StoreRoot = parse_store_url(url)
        options = dict(storage_options or {})
        if self._root.protocol == "s3":
            options.setdefault("use_listings_cache", False)  # other replicas write too
        self._fs: Any = fsspec.filesystem(self._root.protocol, **options)

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ArtifactStore:
        url = settings.resolved_store_url()
        return cls(url, storage_options=s3_options_from_env() if url.startswith("s3:") else None)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    @property
    def url(self) -> str:
        return self._root.url

    @property
    def protocol(self) -> str:
        return self._root.protocol

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec options the store's filesystem was built with (credentials included): what
        another reader, a Dask worker say, needs to open :meth:`fsspec_url` itself."""
        return dict(self._fs.storage_options)

    # --- keys and URIs (pure, no I/O) ---

    def uri(self, key: str) -> str:
        return self._root.uri(validate_key(key))

    def prefix_uri(self, prefix: str) -> str:
        return self._root.uri(validate_prefix(prefix))

    def fsspec_url(self, key: str) -> str:
        """What fsspec (given :attr:`storage_options`) opens for an object: its absolute local
        path on a file:// store, its s3:// URI on an S3 one."""
        if self._root.protocol == "file":
            return self._path(key)
        return self.uri(key)

    def key_for(self, uri: str) -> str:
        """The key of a URI of this store; InvalidArgument for anything outside it."""
        return self._root.key_for(uri)

    def contains(self, uri: str) -> bool:
        try:
            self._root.key_for(uri)
        except InvalidArgument:
            return False
        return True

    # --- writes ---

    async def put_bytes(self, key: str, data: Buffer) -> PutResult:
        return await self._write(validate_key(key), [data])

    async def put_file(self, key: str, path: str | os.PathLike[str]) -> PutResult:
        validate_key(key)
        if not await asyncio.to_thread(Path(path).is_file):
            raise InvalidArgument(f"{path}: no such local file")
        return await self._write(key, iter_path(path))

    async def put_stream(self, key: str, chunks: Chunks) -> PutResult:
        """Stream sync or async chunks in bounded memory; size and digest computed on the fly."""
        return await self._write(validate_key(key), chunks)

    async def put_blob(self, data: Buffer) -> PutResult:
        """Content-addressed put: the same bytes are stored once, under :func:`blob_key`."""
        digest = hash_bytes(data)
        key = blob_key(digest)
        if await self.exists(key):
            return PutResult(key, self._root.uri(key), len(data), digest)
        return await self._write(key, [data])

    async def put_blob_stream(self, chunks: Chunks) -> PutResult:
        """Content-addressed put of a stream, staged first: the address is known only at EOF."""
        stage = Stage(self, BLOBS, new_staging_key())
        try:
            staged = await stage.put_stream("blob", chunks)
            key = blob_key(staged.digest)
            source = join_key(stage.staging_key, "blob")
            await self._run(key, store_io.publish_blob, self._fs, self._root, source, key)
        finally:
            await stage.rollback()
        return PutResult(key, self._root.uri(key), staged.size, staged.digest)

    @asynccontextmanager
    async def staged(self, prefix: str) -> AsyncIterator[Stage]:
        """Write files under a private prefix, then ``await stage.commit()`` publishes them all at
        ``prefix``; whatever is not committed (error, cancellation, no commit) is removed."""
        stage = Stage(self, validate_prefix(prefix), new_staging_key())
        try:
            yield stage
        except BaseException:
            await stage.rollback()
            raise
        if not stage.committed:
            logger.warning("stage for %s left without commit; discarded", stage.prefix)
            await stage.rollback()

    async def put_tree(self, prefix: str, local_dir: str | os.PathLike[str]) -> TreeResult:
        """Upload every file under a local directory to ``prefix``, all or nothing."""
        try:
            files = await asyncio.to_thread(list_tree, local_dir)
        except NotADirectoryError as exc:
            raise InvalidArgument(f"{local_dir}: not a local directory") from exc
        async with self.staged(prefix) as stage:
            for name, path in sorted(files.items()):
                await stage.put_file(validate_key(name, what=f"file in {local_dir}"), path)
            return await stage.commit()

    # --- reads ---

    async def exists(self, key: str) -> bool:
        return await self._run(key, store_io.is_object, self._fs, self._path(key))

    async def size(self, key: str) -> int:
        info = await self._run(key, self._fs.info, self._path(key))
        if info.get("type") != "file":
            raise NotFound(f"{key}: no such object in the artifact store")
        return int(info["size"])

    async def get_bytes(self, key: str) -> bytes:
        data = await self._run(key, self._fs.cat_file, self._path(key))
        return bytes(data)

    async def iter_bytes(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Stream an object; wrap in ``contextlib.aclosing`` when you may stop early."""
        fileobj = await self._run(key, store_io.open_read, self._fs, self._path(key))
        try:
            while chunk := await self._run(key, fileobj.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(fileobj.close)

    def open_read(self, key: str) -> Any:
        """A blocking binary file object (seekable); call it from a worker thread."""
        return store_io.open_read(self._fs, self._path(key))

    async def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """Download to a local path, atomically (a temporary sibling, then a rename)."""
        await self._run(key, store_io.download, self._fs, self._path(key), Path(local_path))

    async def get_tree(self, prefix: str, local_dir: str | os.PathLike[str]) -> list[str]:
        """Download every object under ``prefix`` to ``local_dir``; returns the relative names."""
        files = await self._find(validate_prefix(prefix))
        for name, path in sorted(files.items()):
            # objects written around the store may have names that would escape local_dir
            validate_key(name, what=f"object name under {prefix}", reserved_ok=True)
            await self._run(name, store_io.download, self._fs, path, Path(local_dir, name))
        return sorted(files)

    async def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys of the objects under a prefix (directory semantics; '' is everything)."""
        prefix = validate_prefix(prefix, root_ok=True)
        return sorted(join_key(prefix, name) for name in await self._find(prefix))

    async def digest(self, key: str) -> str:
        return await self._run(key, store_io.hash_object, self._fs, self._path(key))

    async def tree_digest(self, prefix: str) -> str:
        """What :func:`services.common.hashing.hash_tree` gives for a local copy of ``prefix``."""
        files = await self._find(validate_prefix(prefix))
        if not files:
            raise NotFound(f"{prefix}: nothing stored under this prefix")
        hashes = {
            name: await self._run(prefix, store_io.hash_object, self._fs, path)
            for name, path in files.items()
        }
        return _tree_digest(hashes)

    # --- deletion and garbage collection ---

    async def delete(self, key: str) -> bool:
        """Remove one object; False if it did not exist."""
        if not await self.exists(key):
            return False
        await self._run(key, self._fs.rm_file, self._path(key))
        return True

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under a prefix (never the root nor ``_staging``); returns a count."""
        prefix = validate_prefix(prefix)
        files = await self._find(prefix)
        await self._run(
            prefix, store_io.delete_files, self._fs, self._root, prefix, list(files.values())
        )
        logger.info("deleted %d objects under %s", len(files), self._root.uri(prefix))
        return len(files)

    async def list_orphans(self, older_than: timedelta) -> list[str]:
        """Staging entries (keys under ``_staging/``) older than ``older_than``: crashed writers."""
        if older_than < timedelta(0):
            raise InvalidArgument("older_than must not be negative")
        cutoff = time.time() - older_than.total_seconds()
        names = await self._run(STAGING, store_io.list_staging, self._fs, self._root)
        return [
            join_key(STAGING, name)
            for name in names
            if (created := staging_created_at(name)) is not None and created < cutoff
        ]

    async def cleanup_staging(self, older_than: timedelta) -> list[str]:
        """Remove :meth:`list_orphans`; ``older_than`` must exceed the longest write in progress."""
        orphans = await self.list_orphans(older_than)
        for key in orphans:
            await self._run(key, store_io.remove_tree, self._fs, self._root.path(key))
        if orphans:
            logger.info("removed %d abandoned staging entries", len(orphans))
        return orphans

    async def check(self) -> None:
        """Readiness: the root directory exists (created if needed) or the bucket answers."""
        if self._root.protocol == "file":
            await self._run(
                self.url, partial(Path(self._root.root).mkdir, parents=True, exist_ok=True)
            )
            return
        bucket = self._root.root.split("/", 1)[0]
        if not await self._run(self.url, self._fs.exists, bucket):
            raise Unavailable(f"artifact store bucket {bucket!r} does not exist")

    # --- internals (also used by Stage) ---

    def _path(self, key: str) -> str:
        return self._root.path(validate_key(key))

    async def _find(self, prefix: str) -> dict[str, str]:
        return await self._run(prefix, store_io.find_files, self._fs, self._root, prefix)

    async def _write(self, key: str, chunks: Chunks) -> PutResult:
        """Write an already validated key (it may be a staging key)."""
        writer = await self._run(key, store_io.open_writer, self._fs, self._root, key)
        try:
            if isinstance(chunks, AsyncIterable):
                await self._pump(key, writer, chunks)
            else:
                await self._run(key, store_io.drain, writer, chunks)
            size, digest = await self._run(key, writer.finish)
        except BaseException:
            try:
                await asyncio.to_thread(writer.abort)
            except Exception:
                logger.warning("could not clean up the failed write of %s", key, exc_info=True)
            raise
        return PutResult(key, self._root.uri(key), size, digest)

    async def _pump(self, key: str, writer: store_io.Writer, chunks: AsyncIterable[Buffer]) -> None:
        # gather small chunks so each hop to a worker thread carries about CHUNK_SIZE bytes
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) >= CHUNK_SIZE:
                full, buffer = buffer, bytearray()
                await self._run(key, writer.write, full)
        if buffer:
            await self._run(key, writer.write, buffer)

    async def _run(self, what: str, func: Callable[..., T], *args: Any) -> T:
        return await store_io.run_blocking(what, func, *args)
