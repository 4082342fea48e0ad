"""Results of store writes, and the :class:`Stage` of a multi-file write (see ArtifactStore.staged).

A stage writes under a private ``_staging/<time>-<uuid>/`` prefix; ``commit()`` publishes all of it
at the final prefix: one directory rename on file:// (readers see all files or none), copy then
delete on s3:// (readers wait for the registry to mark the version ready, as they do anyway).
Anything not committed is removed when the ``async with`` block ends, and ``cleanup_staging``
reclaims the stages of writers that crashed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.common import store_io
from services.common.errors import AimassError, FailedPrecondition
from services.common.hashing import Buffer, iter_path, tree_digest
from services.common.store_keys import join_key, validate_key

if TYPE_CHECKING:
    from services.common.store import ArtifactStore, Chunks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PutResult:
    key: str
    uri: str
    size: int
    digest: str  # "sha256:<hex>"


@dataclass(frozen=True)
class TreeResult:
    prefix: str
    uri: str
    digest: str  # hashing.tree_digest of the files: what hash_tree gives a local copy
    size: int  # total bytes
    files: tuple[PutResult, ...]  # sorted by key


class Stage:
    """Files written here become visible at ``prefix`` only through :meth:`commit`."""

    def __init__(self, store: ArtifactStore, prefix: str, staging_key: str) -> None:
        self._store = store
        self.prefix = prefix
        self.staging_key = staging_key
        self._files: dict[str, PutResult] = {}
        self._state = "open"

    @property
    def committed(self) -> bool:
        return self._state == "committed"

    @property
    def files(self) -> tuple[PutResult, ...]:
        """What was written so far, with the keys and URIs it will have once committed."""
        return tuple(self._files[name] for name in sorted(self._files))

    async def put_bytes(self, name: str, data: Buffer) -> PutResult:
        return await self._put(name, [data])

    async def put_file(self, name: str, path: str | os.PathLike[str]) -> PutResult:
        return await self._put(name, iter_path(path))

    async def put_stream(self, name: str, chunks: Chunks) -> PutResult:
        return await self._put(name, chunks)

    async def _put(self, name: str, chunks: Chunks) -> PutResult:
        self._require_open()
        name = validate_key(name, what="staged file name", reserved_ok=True)
        written = await self._store._write(join_key(self.staging_key, name), chunks)
        final = join_key(self.prefix, name)
        result = PutResult(final, self._store.uri(final), written.size, written.digest)
        self._files[name] = result
        return result

    async def commit(self) -> TreeResult:
        """Publish every staged file at ``prefix``. Committing the same content again (a retry)
        succeeds; a prefix that already holds anything else raises AlreadyExists."""
        self._require_open()
        if not self._files:
            raise FailedPrecondition(f"nothing was staged for {self.prefix}; nothing to commit")
        digests = {name: result.digest for name, result in self._files.items()}
        await self._store._run(
            self.prefix,
            store_io.commit_stage,
            self._store._fs,
            self._store._root,
            self.staging_key,
            self.prefix,
            digests,
        )
        self._state = "committed"
        files = self.files
        logger.info("committed %d files under %s", len(files), self._store.prefix_uri(self.prefix))
        return TreeResult(
            prefix=self.prefix,
            uri=self._store.prefix_uri(self.prefix),
            digest=tree_digest(digests),
            size=sum(result.size for result in files),
            files=files,
        )

    async def rollback(self) -> None:
        """Remove everything staged; failures are logged, and left to ``cleanup_staging``."""
        if self._state != "open":
            return
        self._state = "rolled back"
        path = self._store._root.path(self.staging_key)
        try:
            await self._store._run(self.staging_key, store_io.remove_tree, self._store._fs, path)
        except (AimassError, OSError):
            logger.warning("could not remove %s; cleanup_staging will", path, exc_info=True)

    def _require_open(self) -> None:
        if self._state != "open":
            raise FailedPrecondition(f"the stage for {self.prefix} is already {self._state}")
