"""The adaptive batcher with real threads and a numpy fake model gated by events, not sleeps."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import grpc
import numpy as np
import pytest

from services.common.errors import (
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    QuotaExceeded,
    Unavailable,
)
from services.predictor.batching import Batcher, BatchSettings, Completed

WAIT = 2.0


class FakeModel:
    """Doubles its rows; records each fused batch; blocks while ``gate`` is closed."""

    def __init__(self, fail_on: Callable[[np.ndarray], BaseException | None] | None = None) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.batches: list[np.ndarray] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batches.append(batch.copy())
        self.entered.set()
        self.gate.wait(WAIT * 2)
        error = self.fail_on(batch) if self.fail_on else None
        if error is not None:
            raise error
        return batch * 2

    @property
    def sizes(self) -> list[int]:
        with self._lock:
            return [len(batch) for batch in self.batches]

    @contextmanager
    def closed_gate(self) -> Iterator[None]:
        self.gate.clear()
        try:
            yield
        finally:
            self.gate.set()


def fuse(items: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(items)


def split(result: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(result, np.cumsum(sizes)[:-1])


def rows(start: float, n: int = 1) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float64).reshape(n, 1)


def settings(**overrides: float | int | None) -> BatchSettings:
    values: dict[str, float | int | None] = {
        "max_batch_size": 64,
        "max_queue_delay_s": 0.005,
        "max_queue_rows": 1000,
        "timeout_s": None,
    }
    values.update(overrides)
    return BatchSettings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def batcher_for(
    model: FakeModel, batch_settings: BatchSettings, **kwargs: object
) -> AsyncIterator[Batcher[np.ndarray, np.ndarray]]:
    batcher: Batcher[np.ndarray, np.ndarray] = Batcher(
        batch_settings,
        fuse,
        model.run,
        split,
        name="fake",
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        yield batcher
    finally:
        model.gate.set()
        await batcher.close(grace=WAIT)


async def until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


async def occupy(model: FakeModel, batcher: Batcher[np.ndarray, np.ndarray]) -> asyncio.Task:
    """Start a one-row batch that blocks in the model (the gate must be closed)."""
    model.entered.clear()
    task = asyncio.ensure_future(batcher.submit(rows(-1), 1))
    await until(model.entered.is_set)
    return task


def seen(model: FakeModel, value: float) -> bool:
    return any(value in batch for batch in model.batches)


async def test_concurrent_submits_fuse_and_each_caller_gets_its_own_rows() -> None:
    model = FakeModel()
    async with batcher_for(model, settings()) as batcher:
        results = await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(50)))
    assert sum(model.sizes) == 50
    assert len(model.sizes) <= 5
    for i, done in enumerate(results):
        assert isinstance(done, Completed)
        np.testing.assert_array_equal(done.value, rows(i) * 2)
        assert done.queue_seconds >= 0 and done.compute_seconds >= 0


async def test_the_delay_waits_for_later_requests_until_the_batch_is_full() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_batch_size=2, max_queue_delay_s=1.0)) as batcher:
        started = time.monotonic()
        first = asyncio.ensure_future(batcher.submit(rows(1), 1))
        await asyncio.sleep(0.01)
        assert not first.done()
        second = await batcher.submit(rows(2), 1)
        assert time.monotonic() - started < 0.5  # full: it left before the delay ran out
        np.testing.assert_array_equal((await first).value, rows(1) * 2)
        np.testing.assert_array_equal(second.value, rows(2) * 2)
    assert model.sizes == [2]


async def test_max_batch_size_counts_rows() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_batch_size=8)) as batcher:
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            tasks = [asyncio.ensure_future(batcher.submit(rows(10 * i, 3), 3)) for i in range(10)]
            await until(lambda: batcher.queued_rows == 30)
        await blocker
        results = await asyncio.gather(*tasks)
    assert max(model.sizes[1:]) <= 8
    assert model.sizes[1:] == [6, 6, 6, 6, 6]
    for i, done in enumerate(results):
        np.testing.assert_array_equal(done.value, rows(10 * i, 3) * 2)


async def test_an_oversized_request_runs_alone() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_batch_size=4)) as batcher:
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            small = asyncio.ensure_future(batcher.submit(rows(0), 1))
            big = asyncio.ensure_future(batcher.submit(rows(100, 10), 10))
            last = asyncio.ensure_future(batcher.submit(rows(200), 1))
            await until(lambda: batcher.queued_rows == 12)
        await asyncio.gather(blocker, small, big, last)
    assert model.sizes == [1, 1, 10, 1]
    np.testing.assert_array_equal(big.result().value, rows(100, 10) * 2)


async def test_zero_delay_takes_only_what_is_queued() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_queue_delay_s=0.0)) as batcher:
        lone = await batcher.submit(rows(0), 1)
        assert model.sizes == [1]
        together = await asyncio.gather(*(batcher.submit(rows(i), 1) for i in range(5)))
        assert model.sizes == [1, 5]
        with model.closed_gate():
            first = await occupy(model, batcher)
            later = asyncio.ensure_future(batcher.submit(rows(7), 1))
            await until(lambda: batcher.queued_rows == 1)
        await asyncio.gather(first, later)
    assert model.sizes == [1, 5, 1, 1]
    np.testing.assert_array_equal(lone.value, rows(0) * 2)
    np.testing.assert_array_equal(together[4].value, rows(4) * 2)


async def test_a_full_queue_is_refused_at_once() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_batch_size=2, max_queue_rows=4)) as batcher:
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            queued = [asyncio.ensure_future(batcher.submit(rows(i), 2)) for i in range(2)]
            await until(lambda: batcher.queued_rows == 4)
            started = time.monotonic()
            with pytest.raises(QuotaExceeded) as refused:
                await batcher.submit(rows(9), 1)
            assert time.monotonic() - started < 0.1
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(InvalidArgument):
                await batcher.submit(rows(9, 5), 5)  # can never fit
        await asyncio.gather(blocker, *queued)
    assert not seen(model, 9)


async def test_a_cancelled_caller_is_dropped_without_harming_its_batch() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(max_queue_delay_s=0.0)) as batcher:
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            first, gone, third = (
                asyncio.ensure_future(batcher.submit(rows(v), 1)) for v in (1.0, 2.0, 3.0)
            )
            await until(lambda: batcher.queued_rows == 3)
            gone.cancel()
            await asyncio.sleep(0)
            assert batcher.queued_rows == 2
        await blocker
        np.testing.assert_array_equal((await first).value, rows(1) * 2)
        np.testing.assert_array_equal((await third).value, rows(3) * 2)
    with pytest.raises(asyncio.CancelledError):
        gone.result()
    np.testing.assert_array_equal(model.batches[1], np.array([[1.0], [3.0]]))


async def test_a_caller_cancelled_mid_run_leaves_the_others_their_results() -> None:
    model = FakeModel()
    async with batcher_for(model, settings()) as batcher:
        with model.closed_gate():
            tasks = [asyncio.ensure_future(batcher.submit(rows(i), 1)) for i in range(3)]
            await until(model.entered.is_set)
            tasks[1].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    np.testing.assert_array_equal(results[2].value, rows(2) * 2)  # type: ignore[union-attr]


async def test_a_passed_deadline_fails_the_caller_and_never_runs_it() -> None:
    model = FakeModel()
    async with batcher_for(model, settings()) as batcher:
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(rows(5), 1, deadline=time.monotonic() - 1)
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            other = asyncio.ensure_future(batcher.submit(rows(6), 1))
            with pytest.raises(DeadlineExceeded):
                await batcher.submit(rows(7), 1, deadline=time.monotonic() + 0.05)
            assert batcher.queued_rows == 1
        await blocker
        np.testing.assert_array_equal((await other).value, rows(6) * 2)
    assert not seen(model, 5) and not seen(model, 7)


async def test_model_timeout_fails_the_batch_and_the_batcher_recovers() -> None:
    model = FakeModel()
    async with batcher_for(model, settings(timeout_s=0.1)) as batcher:
        with model.closed_gate():
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                await batcher.submit(rows(1), 1)
            assert time.monotonic() - started < 1.0
            waiting = asyncio.ensure_future(batcher.submit(rows(2), 1))
            await asyncio.sleep(0.02)
            assert not waiting.done() and model.sizes == [1]  # the thread is still busy
        np.testing.assert_array_equal((await waiting).value, rows(2) * 2)
        np.testing.assert_array_equal((await batcher.submit(rows(3), 1)).value, rows(3) * 2)


async def test_a_model_error_reaches_only_its_batch() -> None:
    def fail_on(batch: np.ndarray) -> BaseException | None:
        if (batch < -50).any():
            return ValueError("boom")
        if (batch == 13).any():
            return InvalidArgument("feature 0 must not be 13")
        return None

    model = FakeModel(fail_on)
    async with batcher_for(model, settings(max_queue_delay_s=0.0)) as batcher:
        with model.closed_gate():
            blocker = await occupy(model, batcher)
            doomed = [asyncio.ensure_future(batcher.submit(rows(v), 1)) for v in (-99.0, 4.0)]
            await until(lambda: batcher.queued_rows == 2)
        await blocker
        for task in doomed:
            with pytest.raises(Internal) as failed:
                await task
            assert failed.value.code == grpc.StatusCode.INTERNAL
            assert isinstance(failed.value.__cause__, ValueError)
        with pytest.raises(InvalidArgument, match="must not be 13"):
            await batcher.submit(rows(13), 1)
        np.testing.assert_array_equal((await batcher.submit(rows(5), 1)).value, rows(5) * 2)


async def test_close_finishes_running_and_queued_work_then_refuses() -> None:
    model = FakeModel()
    async with batcher_for(model, settings()) as batcher:
        with model.closed_gate():
            running = await occupy(model, batcher)
            queued = asyncio.ensure_future(batcher.submit(rows(1), 1))
            await until(lambda: batcher.queued_rows == 1)
            closing = asyncio.ensure_future(batcher.close(grace=WAIT))
            await asyncio.sleep(0)
            with pytest.raises(Unavailable):
                await batcher.submit(rows(2), 1)
            assert not closing.done()
        await closing
        np.testing.assert_array_equal((await running).value, rows(-1) * 2)
        np.testing.assert_array_equal((await queued).value, rows(1) * 2)


async def test_close_fails_leftovers_when_grace_runs_out() -> None:
    model = FakeModel()
    async with batcher_for(model, settings()) as batcher:
        with model.closed_gate():
            running = await occupy(model, batcher)
            queued = asyncio.ensure_future(batcher.submit(rows(1), 1))
            await until(lambda: batcher.queued_rows == 1)
            await batcher.close(grace=0.05)
            for task in (running, queued):
                with pytest.raises(Unavailable):
                    await task
    assert not seen(model, 1)


async def test_observer_sees_every_batch() -> None:
    calls: list[tuple[int, int, list[float], float]] = []

    class Observer:
        def on_batch(
            self, size_rows: int, n_requests: int, queue_seconds: list[float], compute: float
        ) -> None:
            calls.append((size_rows, n_requests, queue_seconds, compute))

    model = FakeModel()
    async with batcher_for(model, settings(), observer=Observer()) as batcher:
        await asyncio.gather(batcher.submit(rows(0, 2), 2), batcher.submit(rows(5), 1))
    assert [(size, n) for size, n, _, _ in calls] == [(3, 2)]
    assert len(calls[0][2]) == 2 and calls[0][3] >= 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_batch_size": 0},
        {"max_queue_delay_s": -1.0},
        {"max_queue_delay_s": float("nan")},
        {"max_queue_rows": 10},
        {"timeout_s": 0.0},
        {"concurrency": 0},
    ],
)
def test_settings_are_validated(overrides: dict[str, float | int]) -> None:
    with pytest.raises(InvalidArgument):
        settings(**overrides)
