"""A small in-process cache whose entries live for a fixed time, loading each missing key once:
callers that miss the same key while it loads wait for that one load (single flight), so an
expiring hot entry costs one backend round trip, not one per concurrent request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The value of ``key``, from ``load()`` when missing or older than the TTL. A failed
        load is not cached: every caller waiting for it gets its exception. The load runs as its
        own task, so a caller that is cancelled does not cancel it for the others."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry[0] <= self.ttl_seconds:
            return entry[1]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._load(key, load))
            task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _load(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> V:
        loaded_at = self.clock()
        try:
            value = await load()
        finally:
            loading = self._loading.get(key)
            if loading is asyncio.current_task():
                del self._loading[key]
        if loading is asyncio.current_task():  # not invalidated meanwhile
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (loaded_at, value)
        return value

    def invalidate(self, key: K) -> None:
        """Forget ``key``; a load of it in flight still answers its waiters but is not kept."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    def invalidate_where(self, stale: Callable[[V], bool]) -> None:
        """Forget every entry ``stale`` accepts, and whatever is loading."""
        self._entries = {key: entry for key, entry in self._entries.items() if not stale(entry[1])}
        self._loading.clear()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a failed load's exception seen, also when every caller waiting for it has left."""
    if not task.cancelled():
        task.exception()
