"""Adaptive batching for one model version: queued requests fuse into one vectorised call.

A :class:`Batcher` owns a bounded FIFO of requests and one collector task. The collector waits for
the first request, then until ``max_batch_size`` rows are queued or ``max_queue_delay_s`` has passed
since that request arrived (zero delay: no waiting at all), then until a compute slot is free, and
only then takes the batch: everything queued at that moment, in order, up to ``max_batch_size`` rows
(a single larger request runs alone). ``fuse``, ``run`` and ``split`` execute in a thread, so the
event loop keeps accepting and gathering the next batch while one runs.

The hot path is one future per request plus a timer handle when the caller has a deadline; batches
complete through one ``call_soon_threadsafe`` each, with no task per request or per batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from services.common.errors import (
    AimassError,
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    QuotaExceeded,
    Unavailable,
)

logger = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

# HTTP Retry-After has whole-second granularity; a full queue usually drains well within one.
RETRY_AFTER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """Per-deployment batching knobs.

    ``concurrency`` is how many batches of this model may compute at once (the thread limit); with
    the default of 1 the next batch gathers while the current one runs and starts when it ends.
    """

    max_batch_size: int
    max_queue_delay_s: float
    max_queue_rows: int
    timeout_s: float | None
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise InvalidArgument(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if not (math.isfinite(self.max_queue_delay_s) and self.max_queue_delay_s >= 0):
            raise InvalidArgument(f"max_queue_delay_s must be >= 0, got {self.max_queue_delay_s}")
        if self.max_queue_rows < self.max_batch_size:
            raise InvalidArgument(
                f"max_queue_rows ({self.max_queue_rows}) must be >= max_batch_size "
                f"({self.max_batch_size})"
            )
        if self.timeout_s is not None and not (self.timeout_s > 0):
            raise InvalidArgument(f"timeout_s must be > 0 or unset, got {self.timeout_s}")
        if self.concurrency < 1:
            raise InvalidArgument(f"concurrency must be >= 1, got {self.concurrency}")


@dataclass(frozen=True, slots=True)
class Completed(Generic[Out]):
    """One caller's share of a batch result, with its latency split."""

    value: Out
    queue_seconds: float
    compute_seconds: float


class BatchObserver(Protocol):
    """Stats hook, called on the event loop once per batch whose thread finished (even if it
    failed or timed out); keep it quick. Queue depth is the :attr:`Batcher.queued_rows` gauge."""

    def on_batch(
        self, size_rows: int, n_requests: int, queue_seconds: list[float], compute_seconds: float
    ) -> None: ...


class _Entry:
    __slots__ = ("item", "rows", "future", "enqueued", "deadline", "timer", "queued", "waited")

    def __init__(self, item: Any, rows: int, future: asyncio.Future[Any], enqueued: float) -> None:
        self.item = item
        self.rows = rows
        self.future = future
        self.enqueued = enqueued
        self.deadline: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.queued = True
        self.waited = 0.0


@dataclass(slots=True)
class _Outcome:
    outputs: list[Any] | None
    error: BaseException | None
    seconds: float


class _Running:
    __slots__ = ("entries", "timer")

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self.timer: asyncio.TimerHandle | None = None


def _fail(entries: list[_Entry], error: BaseException) -> None:
    for entry in entries:
        if not entry.future.done():
            entry.future.set_exception(error)


class Batcher(Generic[In, Out]):
    """Fuses concurrent :meth:`submit` calls for one model version into vectorised ``run`` calls.

    ``fuse(items) -> batch``, ``run(batch) -> result`` and ``split(result, row_counts) -> outputs``
    run in ``executor`` (default: a dedicated pool of ``settings.concurrency`` threads), so they may
    block. Bind a batcher to one event loop: the first ``submit`` starts its collector there.
    """

    def __init__(
        self,
        settings: BatchSettings,
        fuse: Callable[[list[In]], Any],
        run: Callable[[Any], Any],
        split: Callable[[Any, list[int]], list[Out]],
        *,
        name: str = "model",
        executor: Executor | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self._fuse, self._run, self._split = fuse, run, split
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            settings.concurrency, thread_name_prefix=f"batch-{name}"
        )
        self._observer = observer
        self._queue: deque[_Entry] = deque()
        self._queued_rows = 0
        self._running: set[_Running] = set()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._collector: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._wake: asyncio.Future[None] | None = None
        self._wake_rows = 1

    @property
    def queued_rows(self) -> int:
        """Rows waiting for a batch (not those computing): the queue-depth gauge."""
        return self._queued_rows

    async def submit(self, item: In, rows: int, deadline: float | None = None) -> Completed[Out]:
        """Queue ``item`` (``rows`` rows) and wait for its share of a batch result.

        ``deadline`` is absolute, on the ``time.monotonic()`` clock. Raises QuotaExceeded at once
        when the queue is full, DeadlineExceeded when the deadline or the model timeout passes,
        Unavailable once closing; cancelling the caller drops its rows without touching others.
        """
        if self._closing:
            raise Unavailable(f"model {self.name} is shutting down; retry")
        settings = self.settings
        if not 1 <= rows <= settings.max_queue_rows:
            raise InvalidArgument(
                f"a request must have 1 to {settings.max_queue_rows} rows, got {rows}"
            )
        if self._queued_rows + rows > settings.max_queue_rows:
            raise QuotaExceeded(
                f"model {self.name} is overloaded ({self._queued_rows} rows queued); retry later",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        loop = self._loop or self._start()
        now = loop.time()
        entry = _Entry(item, rows, loop.create_future(), now)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before the request was queued")
            entry.deadline = now + remaining
            entry.timer = loop.call_at(entry.deadline, self._expire, entry)
        self._queue.append(entry)
        self._queued_rows += rows
        if self._wake is not None and self._queued_rows >= self._wake_rows:
            self._poke()
        try:
            return await entry.future
        finally:
            if entry.timer is not None:
                entry.timer.cancel()
            if entry.queued:  # cancelled while waiting: free its room in the queue
                self._unqueue(entry)

    async def close(self, grace: float) -> None:
        """Refuse new work, let queued and running batches finish within ``grace`` seconds, then
        fail what is left with Unavailable. A model thread still running is abandoned (threads
        cannot be killed); its result is discarded when it ends."""
        self._closing = True
        self._poke()
        collector = self._collector
        if collector is not None and not collector.done():
            await asyncio.wait({collector}, timeout=grace)
            if not collector.done():
                collector.cancel()
                await asyncio.wait({collector})
        self._fail_all(Unavailable(f"model {self.name} was unloaded before answering; retry"))
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._collector = loop.create_task(self._collect(), name=f"batcher-{self.name}")
        return loop

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _unqueue(self, entry: _Entry) -> None:
        entry.queued = False
        self._queued_rows -= entry.rows

    def _expire(self, entry: _Entry) -> None:
        if entry.queued:
            self._unqueue(entry)
        if not entry.future.done():
            entry.future.set_exception(DeadlineExceeded("the request's deadline passed"))

    def _fail_all(self, error: AimassError) -> None:
        while self._queue:
            entry = self._queue.popleft()
            if entry.queued:
                self._unqueue(entry)
                _fail([entry], error)
        for running in self._running:
            _fail(running.entries, error)

    async def _collect(self) -> None:
        try:
            await self._collect_loop()
        except Exception:
            logger.exception("batcher for %s stopped", self.name)
            self._closing = True
            self._fail_all(Unavailable(f"model {self.name} stopped serving; retry"))

    async def _collect_loop(self) -> None:
        assert self._slots is not None
        delay = self.settings.max_queue_delay_s
        while True:
            if self._queued_rows == 0:
                if self._closing:
                    break
                await self._wait_for(1, None)
                continue
            if delay > 0 and not self._closing:
                await self._wait_for(self.settings.max_batch_size, self._head().enqueued + delay)
            await self._slots.acquire()
            batch = self._take_batch()
            if batch:
                self._dispatch(batch)
            else:
                self._slots.release()
        for _ in range(self.settings.concurrency):  # wait until every running batch has ended
            await self._slots.acquire()

    async def _wait_for(self, rows: int, until: float | None) -> None:
        """Sleep until ``rows`` rows are queued, ``until`` (loop time) passes, or close()."""
        assert self._loop is not None
        if self._queued_rows >= rows or self._closing:
            return
        if until is not None and until <= self._loop.time():
            return
        self._wake = wake = self._loop.create_future()
        self._wake_rows = rows
        timer = None if until is None else self._loop.call_at(until, self._poke)
        try:
            await wake
        finally:
            self._wake = None
            if timer is not None:
                timer.cancel()

    def _head(self) -> _Entry:
        while not self._queue[0].queued:
            self._queue.popleft()
        return self._queue[0]

    def _take_batch(self) -> list[_Entry]:
        assert self._loop is not None
        now = self._loop.time()
        limit = self.settings.max_batch_size
        batch: list[_Entry] = []
        rows = 0
        queue = self._queue
        while queue:
            entry = queue[0]
            if entry.queued and batch and rows + entry.rows > limit:
                break
            queue.popleft()
            if not entry.queued:
                continue
            self._unqueue(entry)
            if entry.deadline is not None and entry.deadline <= now:
                self._expire(entry)
                continue
            entry.waited = now - entry.enqueued
            batch.append(entry)
            rows += entry.rows
        return batch

    def _dispatch(self, batch: list[_Entry]) -> None:
        assert self._loop is not None and self._slots is not None
        loop = self._loop
        running = _Running(batch)
        items = [entry.item for entry in batch]
        sizes = [entry.rows for entry in batch]
        try:
            future = self._executor.submit(self._compute, items, sizes)
        except RuntimeError:  # a shared executor that was shut down
            self._slots.release()
            _fail(batch, Unavailable(f"model {self.name} has no compute threads left; retry"))
            return
        self._running.add(running)
        if self.settings.timeout_s is not None:
            running.timer = loop.call_later(self.settings.timeout_s, self._time_out, running)

        def done(future: Future[_Outcome]) -> None:
            try:
                loop.call_soon_threadsafe(self._finish, running, future)
            except RuntimeError:  # the loop closed while the model ran
                pass

        future.add_done_callback(done)

    def _compute(self, items: list[In], sizes: list[int]) -> _Outcome:
        started = time.perf_counter()
        try:
            outputs = self._split(self._run(self._fuse(items)), sizes)
            if len(outputs) != len(sizes):
                raise ValueError(f"split returned {len(outputs)} outputs for {len(sizes)} requests")
            return _Outcome(outputs, None, time.perf_counter() - started)
        except Exception as exc:
            return _Outcome(None, exc, time.perf_counter() - started)

    def _time_out(self, running: _Running) -> None:
        # The thread keeps running and holds its compute slot until it ends; callers stop waiting.
        logger.warning("model %s exceeded its %ss timeout", self.name, self.settings.timeout_s)
        _fail(running.entries, DeadlineExceeded(f"model {self.name} took too long"))

    def _finish(self, running: _Running, future: Future[_Outcome]) -> None:
        assert self._slots is not None
        self._running.discard(running)
        self._slots.release()
        if running.timer is not None:
            running.timer.cancel()
        entries = running.entries
        if future.cancelled():  # close() dropped it before it started
            _fail(entries, Unavailable(f"model {self.name} was unloaded before answering; retry"))
            return
        try:
            outcome = future.result()
        except BaseException as exc:  # e.g. SystemExit raised inside the model
            outcome = _Outcome(None, exc, 0.0)
        self._observe(entries, outcome.seconds)
        if outcome.outputs is not None:
            for entry, value in zip(entries, outcome.outputs, strict=True):
                if not entry.future.done():
                    entry.future.set_result(Completed(value, entry.waited, outcome.seconds))
        elif isinstance(outcome.error, AimassError):
            _fail(entries, outcome.error)
        else:
            logger.error("model %s failed on a batch", self.name, exc_info=outcome.error)
            for entry in entries:
                if not entry.future.done():
                    error = Internal(f"model {self.name} failed; see the predictor logs")
                    error.__cause__ = outcome.error
                    entry.future.set_exception(error)

    def _observe(self, entries: list[_Entry], compute_seconds: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer.on_batch(
                sum(entry.rows for entry in entries),
                len(entries),
                [entry.waited for entry in entries],
                compute_seconds,
            )
        except Exception:
            logger.exception("batch observer failed")
