"""The shared TTL cache: one load per key however many callers miss it at once, expiry, failed
loads not kept, invalidation winning over a load in flight, and a cancelled caller not cancelling
the load for the others."""

from __future__ import annotations

import asyncio

import pytest

from services.common.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("backend down")
        return self.calls


async def test_concurrent_misses_share_one_load_and_the_value_expires() -> None:
    clock, loader = Clock(), Loader()
    cache: TtlCache[str, int] = TtlCache(2.0, clock=clock)
    waiters = [asyncio.create_task(cache.get("k", loader)) for _ in range(50)]
    await asyncio.sleep(0)
    loader.release.set()
    assert await asyncio.gather(*waiters) == [1] * 50
    assert loader.calls == 1
    clock.now = 2.0
    assert await cache.get("k", loader) == 1
    clock.now = 2.5
    assert await cache.get("k", loader) == 2


async def test_a_failed_load_reaches_every_waiter_and_is_not_kept() -> None:
    loader = Loader()
    loader.fail = True
    cache: TtlCache[str, int] = TtlCache(60.0)
    waiters = [asyncio.create_task(cache.get("k", loader)) for _ in range(3)]
    await asyncio.sleep(0)
    loader.release.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    loader.fail = False
    assert await cache.get("k", loader) == 2


async def test_invalidation_during_a_load_keeps_its_value_out() -> None:
    loader = Loader()
    cache: TtlCache[str, int] = TtlCache(60.0)
    first = asyncio.create_task(cache.get("k", loader))
    await asyncio.sleep(0)
    cache.invalidate_where(lambda value: True)
    loader.release.set()
    assert await first == 1
    assert await cache.get("k", loader) == 2


async def test_a_cancelled_caller_leaves_the_load_to_the_others() -> None:
    loader = Loader()
    cache: TtlCache[str, int] = TtlCache(60.0)
    leaving = asyncio.create_task(cache.get("k", loader))
    staying = asyncio.create_task(cache.get("k", loader))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    loader.release.set()
    assert await staying == 1
    assert loader.calls == 1
