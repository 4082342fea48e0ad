"""Durable pull consumers: a pull loop with bounded concurrency and one default settlement policy.

The handler returns normally -> ack; raises :class:`Poison` (or the payload does not decode) ->
term, logged once; raises anything else -> nak with an exponential delay, and term on the last
allowed delivery so a work queue never keeps a message nobody will receive again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from services.common.bus.codec import M, Poison, decode
from services.common.bus.delivery import Delivery
from services.common.bus.namespace import Namespace, validate_name, validate_subject
from services.common.errors import FailedPrecondition
from services.common.logs import request_id_var

logger = logging.getLogger(__name__)

Handler = Callable[[M, Delivery], Awaitable[None]]

_API_PREFIX = "$JS.API"
_STATUS = "Status"
_DESCRIPTION = "Description"
_REQUEST_MARGIN = 1.0  # seconds past a pull request's expiry before we stop waiting for its 408
_MAX_PAUSE = 10.0
_STOP_POLL_SECONDS = 1.0  # how often stop() cancels the loop again


class Retry(Exception):
    """A transient failure with an explicit redelivery delay (seconds)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class ConsumerOptions:
    """A durable pull consumer; ``stream`` and ``filter_subject`` are named without namespace."""

    stream: str
    durable: str
    filter_subject: str
    ack_wait: float = 30.0
    max_deliver: int = 5
    batch: int = 10
    concurrency: int = 1
    heartbeat: bool = False
    max_ack_pending: int | None = None
    fetch_timeout: float = 5.0
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0

    def __post_init__(self) -> None:
        validate_name(self.stream, "stream name")
        validate_name(self.durable, "durable consumer name (<consumer>-<purpose>)")
        validate_subject(self.filter_subject, wildcards=True)
        positive = ("ack_wait", "max_deliver", "batch", "concurrency", "fetch_timeout")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"consumer {self.durable}: {name} must be positive")

    @property
    def heartbeat_interval(self) -> float:
        return self.ack_wait / 3

    def retry_delay_for(self, num_delivered: int) -> float:
        exponent = min(max(num_delivered - 1, 0), 16)
        return float(min(self.max_retry_delay, self.retry_delay * 2**exponent))

    def config(self, namespace: Namespace) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            filter_subject=namespace.subject(self.filter_subject),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
        )


class Consumer(Generic[M]):
    """Runs the pull loop as an asyncio task; build it with ``Bus.consume``."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        namespace: Namespace,
        options: ConsumerOptions,
        message_type: type[M],
        handler: Handler[M],
    ) -> None:
        self.options = options
        self._nc, self._js, self._ns = nc, js, namespace
        self._type, self._handler = message_type, handler
        self._stream = namespace.stream(options.stream)
        self._next_subject = f"{_API_PREFIX}.CONSUMER.MSG.NEXT.{self._stream}.{options.durable}"
        self._slots = asyncio.Semaphore(options.concurrency)
        self._unused = 0  # slots reserved by the open pull request and not yet filled
        self._inflight: set[asyncio.Task[None]] = set()
        self._inbox = ""
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._requests = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self._ensure()
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._inbox}.*")
        self._task = asyncio.create_task(self._run(), name=f"bus-consumer-{self.options.durable}")

    async def info(self) -> ConsumerInfo:
        return await self._js.consumer_info(self._stream, self.options.durable)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop pulling, let in-flight handlers finish within ``grace`` seconds, nak the rest."""
        self._stopping = True
        task = self._task
        if task is not None:
            # A cancel can be lost: nats-py turns it into ConnectionClosedError when the
            # connection closed meanwhile, which the loop takes for a failed pull. The flag ends
            # the loop at its next turn; cancel again until it has.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=_STOP_POLL_SECONDS)
            if not task.cancelled():
                task.exception()  # retrieved: a failure at shutdown is not worth a warning
        if self._inflight:
            _, late = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                logger.warning(
                    "consumer %s: %d handler(s) cut off", self.options.durable, len(late)
                )
        await self._release_unpulled()

    async def _ensure(self) -> None:
        try:
            await self._js.add_consumer(self._stream, self.options.config(self._ns))
        except NotFoundError as exc:
            raise FailedPrecondition(
                f"stream {self._stream} does not exist: call Bus.ensure_streams() at start"
            ) from exc
        except APIError as exc:
            raise FailedPrecondition(
                f"NATS refused consumer {self.options.durable} on {self._stream}: "
                f"{exc.description} (err_code {exc.err_code})"
            ) from exc

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            failure: Exception | None = None
            try:
                await self._reserve()
                await self._pull()
            except Exception as exc:  # a broken pull must never end the loop
                failure = exc
            finally:
                for _ in range(self._unused):
                    self._slots.release()
                self._unused = 0
            if failure is None:
                failures = 0
                continue
            if self._stopping:
                return
            failures += 1
            pause = min(_MAX_PAUSE, 0.5 * 2 ** min(failures, 5))
            logger.warning(
                "consumer %s: pull failed (%s); retrying in %.1fs",
                self.options.durable,
                failure,
                pause,
            )
            await asyncio.sleep(pause)
            await self._recover()

    async def _reserve(self) -> None:
        await self._slots.acquire()
        self._unused = 1
        while self._unused < self.options.batch and not self._slots.locked():
            await self._slots.acquire()  # returns at once: a slot is free
            self._unused += 1

    async def _pull(self) -> None:
        """One pull request for the reserved slots; messages are dispatched as they arrive."""
        assert self._sub is not None
        self._requests += 1
        reply = f"{self._inbox}.{self._requests}"
        expires = int(self.options.fetch_timeout * 1e9)
        request = json.dumps({"batch": self._unused, "expires": expires}).encode()
        await self._nc.publish(self._next_subject, request, reply=reply)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.fetch_timeout + _REQUEST_MARGIN
        while self._unused > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                msg = await self._sub.next_msg(timeout=remaining)
            except TimeoutError:
                return
            status = (msg.headers or {}).get(_STATUS)
            if not status:
                self._dispatch(msg)
            elif msg.subject == reply and self._request_over(msg, status):
                return

    def _request_over(self, msg: Msg, status: str) -> bool:
        if status == "100":  # idle heartbeat
            return False
        if status in ("404", "408"):  # no messages / request expired: ask again
            return True
        # 409 and others (consumer deleted, limits exceeded, server shutdown): pause, re-create
        description = (msg.headers or {}).get(_DESCRIPTION, "")
        raise APIError(code=int(status), description=description or None)

    def _dispatch(self, msg: Msg) -> None:
        owns_slot = self._unused > 0
        # A message beyond the reservation can only come from a request we gave up on; it is
        # still handled (briefly above the concurrency) rather than left to time out.
        if owns_slot:
            self._unused -= 1
        task = asyncio.create_task(self._process(msg, owns_slot))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _process(self, msg: Msg, owns_slot: bool) -> None:
        delivery = Delivery(msg, self._ns, self.options.max_deliver)
        token = request_id_var.set(delivery.request_id or delivery.msg_id or "-")
        beat = asyncio.create_task(self._beat(delivery)) if self.options.heartbeat else None
        try:
            await self._handle(msg, delivery)
        finally:
            if beat is not None:
                beat.cancel()
            request_id_var.reset(token)
            if owns_slot:
                self._slots.release()

    async def _handle(self, msg: Msg, delivery: Delivery) -> None:
        try:
            message = decode(self._type, msg.data, msg.headers)
            await self._handler(message, delivery)
        except Poison as exc:
            await delivery.settle_quietly("term", reason=str(exc))
        except asyncio.CancelledError:
            await delivery.settle_quietly("nak")  # cut off at shutdown: redeliver at once
            raise
        except Exception as exc:
            await self._failed(delivery, exc)
        else:
            await delivery.settle_quietly("ack")

    async def _failed(self, delivery: Delivery, exc: Exception) -> None:
        durable, n = self.options.durable, delivery.num_delivered
        if delivery.is_last_attempt:
            reason = f"gave up after {n} deliveries: {exc}"
            logger.error("consumer %s: %s", durable, reason, exc_info=exc)
            await delivery.settle_quietly("term", reason=reason, log=False)
            return
        delay = exc.delay if isinstance(exc, Retry) and exc.delay is not None else None
        delay = self.options.retry_delay_for(n) if delay is None else delay
        logger.warning(
            "consumer %s: handler failed on %s (delivery %d of %d), retry in %.1fs: %s",
            durable,
            delivery.subject,
            n,
            self.options.max_deliver,
            delay,
            exc,
            exc_info=not isinstance(exc, Retry),
        )
        await delivery.settle_quietly("nak", delay=delay)

    async def _beat(self, delivery: Delivery) -> None:
        while not delivery.settled:
            await asyncio.sleep(self.options.heartbeat_interval)
            try:
                await delivery.in_progress()
            except Exception as exc:
                logger.warning("consumer %s: in_progress failed: %s", self.options.durable, exc)

    async def _recover(self) -> None:
        try:
            await self._ensure()
        except Exception as exc:
            logger.warning("consumer %s: cannot re-create: %s", self.options.durable, exc)

    async def _release_unpulled(self) -> None:
        """Nak what arrived but was never dispatched, then drop the inbox."""
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            while sub.pending_msgs:
                msg = await sub.next_msg(timeout=0.1)
                if not (msg.headers or {}).get(_STATUS):
                    await msg.nak()
            await sub.unsubscribe()
        except Exception as exc:
            logger.debug("consumer %s: inbox cleanup: %s", self.options.durable, exc)
