"""Blocking I/O of the artifact store; :class:`~services.common.store.ArtifactStore` runs every
function here in a worker thread (``asyncio.to_thread``), never on the event loop.

Atomic, write-once objects:

* file://  the bytes go to a temporary file under ``_staging/`` (same filesystem), are fsync'ed,
  then hard-linked to the final name. ``link`` fails when the name exists, so a concurrent writer is
  never overwritten, and a reader sees either nothing or the whole object.
* s3://    one ``PutObject`` (small) or a multipart upload in ``S3_BLOCK_SIZE`` parts (large), both
  with ``If-None-Match: *`` so S3 itself refuses an overwrite. An aborted multipart upload is never
  visible; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims crashed writers' parts.

When the name already exists the new bytes are still hashed: identical content is an idempotent
retry and succeeds, anything else raises AlreadyExists.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from services.common.errors import AimassError, AlreadyExists, NotFound, Unavailable
from services.common.hashing import CHUNK_SIZE, Buffer, Hasher, hash_fileobj, hash_path
from services.common.store_keys import STAGING, StoreRoot, join_key, new_staging_key, relative_to

logger = logging.getLogger(__name__)

T = TypeVar("T")

S3_BLOCK_SIZE = 8 << 20  # multipart part and read-ahead size: bounds the memory of a transfer


class Writer(Protocol):
    def write(self, chunk: Buffer) -> None: ...
    def finish(self) -> tuple[int, str]: ...
    def abort(self) -> None: ...


def open_writer(fs: Any, root: StoreRoot, key: str) -> Writer:
    if root.protocol == "file":
        return _LocalWriter(root, key)
    return _S3Writer(fs, root, key)


def _check_same(key: str, ours: str, theirs: str) -> None:
    if ours != theirs:
        raise AlreadyExists(
            f"{key} already exists with other content ({theirs}); objects are written once"
        )
    logger.debug("%s already exists with the same content; nothing written", key)


class _LocalWriter:
    def __init__(self, root: StoreRoot, key: str) -> None:
        self._key = key
        self._dest = Path(root.path(key))
        self._tmp = Path(root.path(new_staging_key()))
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._tmp, "xb")  # closed by finish() or abort()
        self._hasher = Hasher()
        self._lock = threading.Lock()  # abort() waits for a write still running in another thread

    def write(self, chunk: Buffer) -> None:
        with self._lock:
            self._file.write(chunk)
            self._hasher.update(chunk)

    def finish(self) -> tuple[int, str]:
        with self._lock:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                digest = self._hasher.digest()
                self._publish(digest)
            finally:
                self._file.close()
                self._tmp.unlink(missing_ok=True)
        return self._hasher.size, digest

    def _publish(self, digest: str) -> None:
        try:
            self._dest.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise AlreadyExists(f"{self._key}: a parent of this key is an object") from exc
        try:
            os.link(self._tmp, self._dest)
        except FileExistsError:
            if not self._dest.is_file():
                raise AlreadyExists(f"{self._key} already exists as a prefix") from None
            _check_same(self._key, digest, hash_path(self._dest))

    def abort(self) -> None:
        with self._lock:
            self._file.close()
            self._tmp.unlink(missing_ok=True)


class _S3Writer:
    def __init__(self, fs: Any, root: StoreRoot, key: str) -> None:
        self._fs = fs
        self._key = key
        self._path = root.path(key)
        # an existing object: only hash the new bytes and compare them at the end
        self._file = (
            None
            if is_object(fs, self._path)
            else fs.open(self._path, "xb", block_size=S3_BLOCK_SIZE)
        )
        self._hasher = Hasher()
        self._lock = threading.Lock()

    def write(self, chunk: Buffer) -> None:
        with self._lock:
            self._hasher.update(chunk)
            if self._file is not None:
                self._file.write(chunk)

    def finish(self) -> tuple[int, str]:
        with self._lock:
            digest = self._hasher.digest()
            if self._file is not None:
                try:
                    self._file.close()
                    return self._hasher.size, digest
                except FileExistsError:  # a concurrent writer won If-None-Match: compare with it
                    self._discard()
            _check_same(self._key, digest, hash_object(self._fs, self._path))
        return self._hasher.size, digest

    def abort(self) -> None:
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        if self._file is None:
            return
        try:
            self._file.discard()  # aborts the multipart upload, if one was started
        except Exception:  # best effort: the lifecycle rule reclaims what is left
            logger.warning("could not abort the upload of %s", self._key, exc_info=True)
        # a closed flag keeps fsspec's __del__ from "closing", i.e. committing, a partial upload
        self._file.closed = True
        self._file = None


def is_object(fs: Any, path: str) -> bool:
    """Like ``fs.isfile`` but an unreachable store raises instead of answering False."""
    try:
        return bool(fs.info(path).get("type") == "file")
    except FileNotFoundError:
        return False


def open_read(fs: Any, path: str) -> Any:
    return fs.open(path, "rb", block_size=S3_BLOCK_SIZE)


def hash_object(fs: Any, path: str) -> str:
    with open_read(fs, path) as fileobj:
        return hash_fileobj(fileobj, CHUNK_SIZE)


def find_files(fs: Any, root: StoreRoot, prefix: str) -> dict[str, str]:
    """``{key relative to prefix: fsspec path}`` of every object strictly under ``prefix``."""
    found: dict[str, str] = {}
    for path in fs.find(root.path(prefix)):
        key = root.key_of_path(path)
        name = relative_to(key, prefix) if key else None
        if name and not (not prefix and name.split("/", 1)[0] == STAGING):
            found[name] = path
    return found


def delete_files(fs: Any, root: StoreRoot, prefix: str, paths: list[str]) -> None:
    if paths:
        fs.rm(paths)
    if root.protocol == "file":  # drop the now empty directories, never a file written meanwhile
        for dirpath, _dirs, _files in os.walk(root.path(prefix), topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def commit_stage(
    fs: Any, root: StoreRoot, stage_key: str, prefix: str, files: Mapping[str, str]
) -> None:
    """Publish a stage's ``{name: digest}`` under ``prefix``.

    file:// renames the stage directory in one step. s3:// copies object by object, so a crash can
    leave part of a prefix: a retry of the same content completes it, other content is refused.
    """
    if root.protocol == "file" and _rename_dir(root.path(stage_key), root.path(prefix)):
        return
    existing = find_files(fs, root, prefix)
    _check_prefix(fs, prefix, existing, files, partial_ok=root.protocol == "s3")
    missing = sorted(set(files) - set(existing))
    if missing:
        sources = [root.path(join_key(stage_key, name)) for name in missing]
        fs.copy(sources, [root.path(join_key(prefix, name)) for name in missing])
    remove_tree(fs, root.path(stage_key))


def _rename_dir(source: str, dest: str) -> bool:
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, dest)  # atomic; replaces only a missing or empty directory
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
            return False
        raise
    return True


def _check_prefix(
    fs: Any, prefix: str, existing: Mapping[str, str], files: Mapping[str, str], partial_ok: bool
) -> None:
    extra = sorted(set(existing) - set(files))
    if extra or (not partial_ok and set(existing) != set(files)):
        shown = ", ".join(extra[:3]) or "a different set of files"
        raise AlreadyExists(f"{prefix} already holds other objects ({shown}); it is written once")
    for name, path in existing.items():
        if hash_object(fs, path) != files[name]:
            raise AlreadyExists(f"{prefix}/{name} already exists with other content")


def list_staging(fs: Any, root: StoreRoot) -> list[str]:
    """Names of the entries (stages and temporary files) directly under ``_staging/``."""
    names: set[str] = set()
    for path in fs.find(root.path(STAGING), withdirs=True):
        key = root.key_of_path(path)
        name = relative_to(key, STAGING) if key else None
        if name:
            names.add(name.split("/", 1)[0])
    return sorted(names)


def remove_tree(fs: Any, path: str) -> None:
    try:
        fs.rm(path, recursive=True)
    except FileNotFoundError:
        pass


def drain(writer: Writer, chunks: Iterable[Buffer]) -> None:
    if isinstance(chunks, bytes | bytearray | memoryview):  # one buffer, not an iterable of ints
        writer.write(chunks)
        return
    for chunk in chunks:
        writer.write(chunk)


def publish_blob(fs: Any, root: StoreRoot, source_key: str, key: str) -> None:
    """Move a staged object to its content address; an existing one holds the same bytes."""
    source, dest = root.path(source_key), root.path(key)
    if root.protocol == "file":
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, dest)
        except FileExistsError:
            pass
    elif not is_object(fs, dest):
        fs.copy(source, dest)


def download(fs: Any, path: str, local_path: Path) -> None:
    local_path.parent.mkdir(parents=True, exist_ok=True)
    partial = local_path.with_name(f".{local_path.name}.{uuid.uuid4().hex}.part")
    try:
        fs.get_file(path, str(partial))
        os.replace(partial, local_path)
    finally:
        partial.unlink(missing_ok=True)


async def run_blocking(what: str, func: Callable[..., T], *args: Any) -> T:
    """Run blocking I/O in a thread, mapping storage errors onto the error vocabulary."""
    try:
        return await asyncio.to_thread(func, *args)
    except AimassError:
        raise
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise NotFound(f"{what}: no such object in the artifact store") from exc
    except Exception as exc:
        if not is_transport_error(exc):
            raise
        logger.warning("artifact store call failed for %s: %r", what, exc)
        raise Unavailable(f"artifact store unavailable while accessing {what}") from exc


def is_transport_error(exc: BaseException) -> bool:
    """I/O failures of the store (disk, network, S3 service), as opposed to programming errors."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".", 1)[0] in _TRANSPORT_MODULES


_TRANSPORT_MODULES = frozenset({"botocore", "aiobotocore", "aiohttp"})
