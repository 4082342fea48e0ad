"""The Bus: one process's NATS connection — streams, publish, consume, control messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

from services.common.bus.codec import M, Poison, decode, encode
from services.common.bus.consumer import Consumer, ConsumerOptions, Handler
from services.common.bus.namespace import Namespace, subject_matches, validate_subject
from services.common.bus.streams import CONTROL_PREFIX, StreamOutcome, StreamSpec, ensure_streams
from services.common.errors import DeadlineExceeded, Unavailable

logger = logging.getLogger(__name__)

ControlHandler = Callable[[M, str], Awaitable[Message | None]]


class NoStreamForSubject(ValueError):
    """A JetStream publish to a subject no stream covers: a programming error, not an outage."""


@dataclass(frozen=True)
class PublishAck:
    stream: str
    seq: int
    duplicate: bool


class Bus:
    """Owns one NATS connection, its JetStream context and the consumers started through it."""

    def __init__(self, nc: Client, namespace: Namespace, streams: Sequence[StreamSpec]) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.namespace = namespace
        self.streams: tuple[StreamSpec, ...] = tuple(streams)
        self._consumers: list[Consumer[Any]] = []
        self._control_subs: list[Subscription] = []

    @property
    def connected(self) -> bool:
        """For readiness probes: False while reconnecting or after close()."""
        return bool(self.nc.is_connected)

    async def ensure_streams(
        self, streams: Sequence[StreamSpec] | None = None
    ) -> dict[str, StreamOutcome]:
        """Add missing streams, update changed limits; never deletes a stream or its data."""
        specs = self.streams if streams is None else tuple(streams)
        outcome = await ensure_streams(self.js, specs, self.namespace)
        self.streams = specs
        return outcome

    def stream_for(self, subject: str) -> StreamSpec:
        for spec in self.streams:
            if any(subject_matches(pattern, subject) for pattern in spec.subjects):
                return spec
        raise NoStreamForSubject(
            f"no stream covers subject {subject!r}: JetStream subjects are aimass.jobs.>, "
            "aimass.<producer>.> and aimass.predictions.> (aimass.control.> is core NATS)"
        )

    async def publish(
        self, subject: str, message: Message, msg_id: str, *, timeout: float = 5.0
    ) -> PublishAck:
        """Persist ``message`` on its stream; a repeated ``msg_id`` within the stream's
        duplicate window is stored once and acknowledged with ``duplicate=True``."""
        if not msg_id:
            raise ValueError("publish needs a msg_id (Nats-Msg-Id) for de-duplication")
        spec = self.stream_for(validate_subject(subject))
        data, headers = encode(message, msg_id)
        stream = self.namespace.stream(spec.name)
        try:
            ack = await self.js.publish(
                self.namespace.subject(subject),
                data,
                timeout=timeout,
                stream=stream,
                headers=headers,
            )
        except NoStreamResponseError as exc:
            raise Unavailable(
                f"no JetStream stream answered on {subject}: call Bus.ensure_streams() at start "
                "and check that nats-server runs with JetStream (-js)"
            ) from exc
        except (nats.errors.TimeoutError, nats.errors.ConnectionClosedError) as exc:
            raise Unavailable(f"NATS did not acknowledge a publish on {subject}: {exc}") from exc
        except APIError as exc:
            raise Unavailable(
                f"JetStream refused a publish on {subject}: {exc.description}"
            ) from exc
        return PublishAck(stream=ack.stream, seq=ack.seq, duplicate=bool(ack.duplicate))

    async def consume(
        self,
        *,
        stream: str,
        durable: str,
        filter_subject: str,
        message_type: type[M],
        handler: Handler[M],
        ack_wait: float = 30.0,
        max_deliver: int = 5,
        batch: int = 10,
        concurrency: int = 1,
        heartbeat: bool = False,
        max_ack_pending: int | None = None,
        fetch_timeout: float = 5.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
    ) -> Consumer[M]:
        """Create or update the durable ``durable`` and start its pull loop. ``heartbeat=True``
        sends in_progress() every ack_wait/3 while a handler runs. See ConsumerOptions."""
        opts = ConsumerOptions(
            stream=stream,
            durable=durable,
            filter_subject=filter_subject,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            batch=batch,
            concurrency=concurrency,
            heartbeat=heartbeat,
            max_ack_pending=max_ack_pending,
            fetch_timeout=fetch_timeout,
            retry_delay=retry_delay,
            max_retry_delay=max_retry_delay,
        )
        consumer = Consumer(self.nc, self.js, self.namespace, opts, message_type, handler)
        await consumer.start()
        self._consumers.append(consumer)
        return consumer

    async def publish_control(self, subject: str, message: Message) -> None:
        """Fire-and-forget on core NATS (no stream, no persistence)."""
        data, headers = encode(message)
        await self.nc.publish(self._control_subject(subject), data, headers=headers)

    async def request_control(
        self, subject: str, message: Message, reply_type: type[M], *, timeout: float = 2.0
    ) -> M | None:
        """Ask whoever listens on ``subject``; None when nobody does."""
        data, headers = encode(message)
        try:
            reply = await self.nc.request(
                self._control_subject(subject), data, timeout=timeout, headers=headers
            )
        except nats.errors.NoRespondersError:
            return None
        except nats.errors.TimeoutError as exc:
            raise DeadlineExceeded(f"no reply on {subject} within {timeout}s") from exc
        return decode(reply_type, reply.data, reply.headers)

    async def subscribe_control(
        self,
        subject: str,
        message_type: type[M],
        handler: ControlHandler[M],
        *,
        queue: str = "",
    ) -> Subscription:
        """Call ``handler(message, subject)`` for each control message; a returned message
        answers a request. Bad payloads and handler errors are logged, never fatal."""

        async def on_message(msg: Msg) -> None:
            logical = self.namespace.logical_subject(msg.subject)
            try:
                answer = await handler(decode(message_type, msg.data, msg.headers), logical)
                if answer is not None and msg.reply:
                    data, headers = encode(answer)
                    await self.nc.publish(msg.reply, data, headers=headers)
            except Poison as exc:
                logger.error("dropped control message on %s: %s", logical, exc)
            except Exception:
                logger.exception("control handler failed on %s", logical)

        sub = await self.nc.subscribe(self._control_subject(subject), queue=queue, cb=on_message)
        self._control_subs.append(sub)
        return sub

    async def listen(
        self, subject: str, message_type: type[M], handler: Callable[[M], Awaitable[None]]
    ) -> Subscription:
        """A live view of a stream subject over core NATS: messages published from now on, none
        replayed, no acks (for watch streams; durable consumers use ``consume``). The caller
        unsubscribes. Undecodable messages are logged and skipped."""
        validate_subject(subject, wildcards=True)

        async def on_message(msg: Msg) -> None:
            try:
                await handler(decode(message_type, msg.data, msg.headers))
            except Poison as exc:
                logger.warning("skipped a message on %s: %s", msg.subject, exc)

        return await self.nc.subscribe(self.namespace.subject(subject), cb=on_message)

    async def close(self, grace: float = 10.0) -> None:
        """Stop consumers (in-flight handlers get ``grace`` seconds), then drain the connection."""
        consumers, self._consumers = self._consumers, []
        await asyncio.gather(*(c.stop(grace) for c in consumers))
        self._control_subs.clear()
        if self.nc.is_closed:
            return
        try:
            await self.nc.drain()
        except Exception as exc:
            logger.warning("NATS drain failed (%s); closing", exc)
            await self.nc.close()

    def _control_subject(self, subject: str) -> str:
        validate_subject(subject, wildcards=True)
        if not subject.startswith(CONTROL_PREFIX):
            raise ValueError(f"control subjects start with {CONTROL_PREFIX!r}, got {subject!r}")
        return self.namespace.subject(subject)
