"""The prediction log: sampled request/response records published to ``aimass.predictions.<model>``
off the request path.

The request path only calls :meth:`PredictionLog.offer`, which appends to a bounded buffer and never
waits; a full buffer drops the record and counts it. One background loop publishes the buffer in
order, up to ``window`` publishes in flight, with ``Nats-Msg-Id = prediction_id`` (so a republished
record is stored once) and reports the records lost before each in ``dropped_since_last``. A
failed publish (NATS down or slow) drops that record too: prediction logs are samples, and holding
them back would only move the loss to the buffer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote

import numpy as np
from google.protobuf.message import Message

from aimass.events.v1.events_pb2 import PredictionRecord
from services.common.lifecycle import BackgroundTask, default_worker_id
from services.common.outbox import new_id

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "aimass.predictions."
TRUNCATED_KEY = "_truncated"
DEFAULT_CAPACITY = 10_000
MAX_JSON_ROWS = 100
MAX_JSON_VALUES = 10_000
MAX_JSON_CHARS = 64 * 1024

# A model name's characters that stay as they are in its subject token; everything else is
# percent-encoded (UTF-8), so the token is always valid and unquote() gives the name back.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Publisher(Protocol):
    """What the log needs of :class:`services.common.bus.Bus`."""

    async def publish(
        self, subject: str, message: Message, msg_id: str, *, timeout: float = ...
    ) -> Any: ...


def new_prediction_id() -> str:
    """The id returned to the caller for joining ground truth later (32 hex digits)."""
    return new_id()


def sampled(rate: float, rng: random.Random) -> bool:
    """Whether to log this request at ``rate`` (0 never, 1 or more always)."""
    return rate >= 1.0 or (rate > 0.0 and rng.random() < rate)


def prediction_subject(model: str) -> str:
    """``aimass.predictions.<token>`` for a model name.

    Registry names are letters, digits, '.', '_' and '-' (services.common.validation), so in
    practice only '.' needs escaping; the token percent-encodes every character other than ASCII
    letters, digits, '-' and '_' (``a.b`` -> ``a%2Eb``), which is reversible with
    :func:`model_of_subject` and never yields '.', '*', '>' or whitespace.
    """
    if not model:
        raise ValueError("a prediction record needs a model name for its subject")
    token = "".join(
        ch if ch in _PLAIN else "".join(f"%{b:02X}" for b in ch.encode()) for ch in model
    )
    return SUBJECT_PREFIX + token


def model_of_subject(subject: str) -> str:
    """The model name a :func:`prediction_subject` was made from."""
    if not subject.startswith(SUBJECT_PREFIX):
        raise ValueError(f"{subject!r} is not a prediction subject ({SUBJECT_PREFIX}<model>)")
    return unquote(subject[len(SUBJECT_PREFIX) :], errors="strict")


# -- rows as JSON ---------------------------------------------------------------------------------


def rows_json(
    columns: Mapping[str, np.ndarray],
    *,
    max_rows: int = MAX_JSON_ROWS,
    max_values: int = MAX_JSON_VALUES,
    max_chars: int = MAX_JSON_CHARS,
) -> str:
    """``{"column": [row values...], ...}``: bytes as UTF-8 text (invalid bytes replaced), NaN and
    infinities as null, numpy scalars as Python ones.

    At most ``max_rows`` rows and ``max_values`` values in all are kept, fewer if the text would
    pass ``max_chars``; the rows left out are counted under ``"_truncated"``. A 0-d array is one
    value, not a row.
    """
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    total = max((a.shape[0] for a in arrays.values() if a.ndim), default=0)
    width = sum(math.prod(a.shape[1:]) for a in arrays.values() if a.ndim)
    keep = min(total, max_rows, max_values // width if width else total)
    while True:
        body: dict[str, Any] = {
            name: _plain(a[:keep] if a.ndim else a) for name, a in arrays.items()
        }
        if keep < total:
            body[TRUNCATED_KEY] = total - keep
        text = json.dumps(body, allow_nan=False, separators=(",", ":"), default=str)
        if len(text) <= max_chars or keep == 0:
            return text
        keep //= 2


def _plain(array: np.ndarray) -> Any:
    if array.dtype.kind in "iub":
        return array.tolist()
    return _clean(array.tolist())


def _clean(value: Any) -> Any:
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, complex):
        return [_clean(value.real), _clean(value.imag)]
    return value


# -- the log --------------------------------------------------------------------------------------


class PredictionLog(BackgroundTask):
    """A bounded buffer of :class:`PredictionRecord` and the loop that publishes it.

    Enter it after the bus (so it exits, and flushes, before the bus closes). ``offer`` takes
    ownership of the record: the loop sets ``predictor_instance`` and ``dropped_since_last``, the
    records lost between it and the previously published one in offer order (buffer full,
    failed publishes). ``published`` and ``dropped`` count records since start.
    """

    task_name = "prediction-log"

    def __init__(
        self,
        bus: Publisher,
        *,
        capacity: int = DEFAULT_CAPACITY,
        instance: str = "",
        flush_grace: float = 5.0,
        publish_timeout: float = 2.0,
        error_log_interval: float = 60.0,
        window: int = 32,
    ) -> None:
        if capacity < 1 or window < 1:
            raise ValueError(f"capacity and window must be >= 1, got {capacity} and {window}")
        self.bus = bus
        self.capacity = capacity
        self.instance = instance or default_worker_id()
        self.flush_grace = flush_grace
        self.publish_timeout = publish_timeout
        self.error_log_interval = error_log_interval
        self.window = window
        self.published = 0
        self.dropped = 0
        # Each queued record with the drops it reports: those just before it in offer order.
        self._queue: deque[tuple[int, PredictionRecord]] = deque()
        self._gap = 0  # drops since the last queued record
        self._failed = 0  # drops by failed publishes not yet carried by a record in flight
        self._wake = asyncio.Event()
        self._inflight: list[PredictionRecord] = []
        self._ordered = False  # whether a publish has completed (see _publish_queued)
        self._closed = False
        self._last_error_log = -math.inf
        self._errors_since_log = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def offer(self, record: PredictionRecord) -> bool:
        """Queue ``record`` for publishing; False (and counted as dropped) when the buffer is
        full or the log has stopped. Never blocks."""
        if self._closed or len(self._queue) >= self.capacity:
            self.dropped += 1
            self._gap += 1
            return False
        self._queue.append((self._gap, record))
        self._gap = 0
        self._wake.set()
        return True

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._publish_queued()

    async def after_stop(self) -> None:
        """Flush what is queued (and the record cut off mid-publish) within ``flush_grace``."""
        self._closed = True
        self._requeue_inflight()
        try:
            await asyncio.wait_for(self._publish_queued(), self.flush_grace)
        except TimeoutError:
            self._requeue_inflight()
        if self._queue:
            logger.warning(
                "prediction log: %d records not published within %.1f s of shutdown",
                len(self._queue),
                self.flush_grace,
            )
            self.dropped += len(self._queue)
            self._queue.clear()

    async def _publish_queued(self) -> None:
        """Publish up to ``window`` records at a time. They go out in order: each publish runs
        up to its write into the connection's buffer before the next starts; only the very first
        publish may pause earlier (setting up the reply subscription), so it goes alone."""
        while self._queue:
            size = min(self.window if self._ordered else 1, len(self._queue))
            batch = [self._queue.popleft() for _ in range(size)]
            for gap, record in batch:
                record.dropped_since_last = gap + self._failed
                record.predictor_instance = self.instance
                self._failed = 0
                self._inflight.append(record)
            await asyncio.gather(*(self._publish(record) for _, record in batch))

    async def _publish(self, record: PredictionRecord) -> None:
        try:
            subject = prediction_subject(record.model)
            await self.bus.publish(
                subject, record, record.prediction_id, timeout=self.publish_timeout
            )
        except Exception as exc:  # never fatal; a cancellation passes through
            self._inflight.remove(record)
            self.dropped += 1
            self._failed += record.dropped_since_last + 1
            self._log_failure(record, exc)
            return
        self._inflight.remove(record)
        self._ordered = True
        self.published += 1

    def _requeue_inflight(self) -> None:
        """Put publishes cut off by a cancellation back in front; any that reached the stream
        are stored once thanks to the msg id."""
        for record in reversed(self._inflight):
            self._queue.appendleft((record.dropped_since_last, record))
        self._inflight.clear()

    def _log_failure(self, record: PredictionRecord, exc: Exception) -> None:
        self._errors_since_log += 1
        now = time.monotonic()
        if now - self._last_error_log < self.error_log_interval:
            return
        logger.warning(
            "prediction log: publishing failed %d time(s) since the last report, records dropped "
            "(latest: model %r, %s: %s)",
            self._errors_since_log,
            record.model,
            type(exc).__name__,
            exc,
        )
        self._last_error_log = now
        self._errors_since_log = 0
