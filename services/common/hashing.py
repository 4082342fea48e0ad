"""Content hashing: streaming SHA-256 in bounded memory, written as ``sha256:<hex>``.

Everything here reads in chunks of at most :data:`CHUNK_SIZE` bytes, so a file or stream larger
than RAM hashes in constant memory. A *tree* (a dataset version's parts, a model directory) hashes
to the SHA-256 of its manifest: one ``<hex>  <relative/path>\\n`` line per file, sorted by path,
the text ``sha256sum`` prints. A tree digest depends on file names and contents only, never on
listing order, timestamps or empty directories, and is the same for a local directory and for the
objects under a prefix of the artifact store.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

ALGORITHM = "sha256"
PREFIX = f"{ALGORITHM}:"
CHUNK_SIZE = 1 << 20  # 1 MiB

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
Buffer = bytes | bytearray | memoryview


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Hasher:
    """Incremental SHA-256 that also counts bytes."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: Buffer) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def digest(self) -> str:
        return PREFIX + self._hash.hexdigest()


def is_digest(value: str) -> bool:
    return _DIGEST_RE.fullmatch(value) is not None


def digest_hex(value: str) -> str:
    """The hex part of a ``sha256:<hex>`` digest; ValueError for anything else."""
    if not is_digest(value):
        raise ValueError(f"not a digest: {value!r}; expected 'sha256:' and 64 lowercase hex digits")
    return value[len(PREFIX) :]


def hash_bytes(data: Buffer) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def hash_chunks(chunks: Iterable[Buffer]) -> str:
    hasher = Hasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digest()


async def hash_async_chunks(chunks: AsyncIterable[Buffer]) -> str:
    hasher = Hasher()
    async for chunk in chunks:
        hasher.update(chunk)
    return hasher.digest()


def iter_fileobj(fileobj: Readable, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks of a binary file-like object until EOF."""
    while chunk := fileobj.read(chunk_size):
        yield chunk


def iter_path(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks of a local file; the file is opened on first use and closed when done."""
    with open(path, "rb") as fileobj:
        yield from iter_fileobj(fileobj, chunk_size)


def hash_fileobj(fileobj: Readable, chunk_size: int = CHUNK_SIZE) -> str:
    return hash_chunks(iter_fileobj(fileobj, chunk_size))


def hash_path(path: str | os.PathLike[str]) -> str:
    return hash_chunks(iter_path(path))


def tree_digest(files: Mapping[str, str]) -> str:
    """Digest of a tree given ``{relative posix path: file digest}``."""
    hasher = Hasher()
    for name in sorted(files):
        if not name or "\n" in name or "\r" in name or name.startswith("/"):
            raise ValueError(f"bad relative path in a tree: {name!r}")
        hasher.update(f"{digest_hex(files[name])}  {name}\n".encode())
    return hasher.digest()


def list_tree(root: str | os.PathLike[str]) -> dict[str, Path]:
    """Regular files under ``root`` by relative posix path; directory symlinks are not followed."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"{base}: not a directory")
    found: dict[str, Path] = {}
    for dirpath, _dirnames, filenames in os.walk(base):
        for filename in filenames:
            path = Path(dirpath, filename)
            if path.is_file():
                found[path.relative_to(base).as_posix()] = path
    return found


def hash_tree(root: str | os.PathLike[str]) -> str:
    """Digest of every file under a local directory (see the module docstring)."""
    return tree_digest({name: hash_path(path) for name, path in list_tree(root).items()})
