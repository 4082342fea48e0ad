"""The bus on a real NATS JetStream server: streams, publish, pull consumers, control messages."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.errors import ConnectionClosedError
from nats.js.api import RetentionPolicy

from aimass.common.v1.common_pb2 import ENTITY_KIND_MODEL, ENTITY_KIND_RUN, EntityRef
from services.common.bus import (
    CONTENT_TYPE_HEADER,
    EVENTS,
    JOBS,
    Bus,
    Delivery,
    Namespace,
    NoStreamForSubject,
    Poison,
    Retry,
    StreamLimits,
    StreamOutcome,
    connect,
    content_type,
    default_streams,
)
from services.common.errors import FailedPrecondition, Unavailable
from services.common.logs import request_id_var

pytestmark = pytest.mark.integration

TRAIN = "aimass.jobs.train"
CREATED = "aimass.registry.model.version_created"


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.02)


def ref(run_id: str) -> EntityRef:
    return EntityRef(kind=ENTITY_KIND_RUN, id=run_id)


class Recorder:
    """A handler that records what it got and settles by the default policy."""

    def __init__(self) -> None:
        self.seen: list[tuple[EntityRef, Delivery]] = []

    async def __call__(self, message: EntityRef, delivery: Delivery) -> None:
        self.seen.append((message, delivery))

    @property
    def ids(self) -> list[str]:
        return [message.id for message, _ in self.seen]


def test_namespace_maps_subjects_and_streams() -> None:
    ns = Namespace("t1a2")
    assert ns.subject(TRAIN) == "t1a2.aimass.jobs.train"
    assert ns.stream(JOBS) == "t1a2_AIMASS_JOBS"
    assert ns.logical_subject("t1a2.aimass.jobs.train") == TRAIN
    assert Namespace().subject(TRAIN) == TRAIN and Namespace().stream(JOBS) == JOBS
    with pytest.raises(ValueError, match="letters, digits"):
        Namespace("a.b")


async def test_publish_consume_round_trip(nats_bus: Bus) -> None:
    recorder = Recorder()
    token = request_id_var.set("req-42")
    try:
        ack = await nats_bus.publish(CREATED, EntityRef(kind=ENTITY_KIND_MODEL, id="m1"), "evt-1")
    finally:
        request_id_var.reset(token)
    assert (ack.stream, ack.seq, ack.duplicate) == (nats_bus.namespace.stream(EVENTS), 1, False)

    consumer = await nats_bus.consume(
        stream=EVENTS,
        durable="monitor-models",
        filter_subject="aimass.registry.model.>",
        message_type=EntityRef,
        handler=recorder,
    )
    await eventually(lambda: recorder.seen, what="the event")
    message, delivery = recorder.seen[0]
    assert message == EntityRef(kind=ENTITY_KIND_MODEL, id="m1")
    assert (delivery.subject, delivery.msg_id, delivery.num_delivered) == (CREATED, "evt-1", 1)
    assert delivery.request_id == "req-42"
    assert delivery.headers[CONTENT_TYPE_HEADER] == content_type(EntityRef)

    async def acked() -> bool:
        info = await consumer.info()
        return info.ack_floor is not None and info.ack_floor.stream_seq == 1

    await eventually(acked, what="the ack")


async def test_stream_setup_is_idempotent_and_keeps_data(nats_bus: Bus) -> None:
    assert set((await nats_bus.ensure_streams()).values()) == {StreamOutcome.UNCHANGED}
    await nats_bus.publish(CREATED, ref("r1"), "evt-1")

    shorter = default_streams(StreamLimits(events_max_age=3600.0))
    outcome = await nats_bus.ensure_streams(shorter)
    assert outcome == {
        "AIMASS_JOBS": StreamOutcome.UNCHANGED,
        "AIMASS_EVENTS": StreamOutcome.UPDATED,
        "AIMASS_PREDICTIONS": StreamOutcome.UNCHANGED,
    }
    info = await nats_bus.js.stream_info(nats_bus.namespace.stream(EVENTS))
    assert info.config.max_age == pytest.approx(3600.0)
    assert info.state.messages == 1
    assert set((await nats_bus.ensure_streams()).values()) == {StreamOutcome.UNCHANGED}

    jobs = await nats_bus.js.stream_info(nats_bus.namespace.stream(JOBS))
    assert jobs.config.retention == RetentionPolicy.WORK_QUEUE
    assert jobs.config.duplicate_window == pytest.approx(120.0)

    events = next(spec for spec in shorter if spec.name == EVENTS)
    events_as_queue = replace(events, retention=RetentionPolicy.WORK_QUEUE)
    with pytest.raises(FailedPrecondition, match="retention"):
        await nats_bus.ensure_streams([events_as_queue])  # not in place: refused, nothing dropped
    info = await nats_bus.js.stream_info(nats_bus.namespace.stream(EVENTS))
    assert info.state.messages == 1


async def test_publish_outside_any_stream_is_refused(nats_bus_factory: Any) -> None:
    bus: Bus = await nats_bus_factory()
    with pytest.raises(NoStreamForSubject):
        await bus.publish("aimass.control.run.r1.cancel", ref("r1"), "x-1")
    with pytest.raises(NoStreamForSubject):
        await bus.publish("elsewhere.thing", ref("r1"), "x-2")
    with pytest.raises(Unavailable, match="ensure_streams"):
        await bus.publish(TRAIN, ref("r1"), "x-3", timeout=1.0)  # streams never provisioned


async def test_duplicate_msg_id_is_stored_once(nats_bus: Bus) -> None:
    first = await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    second = await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    assert (first.duplicate, second.duplicate, second.seq) == (False, True, first.seq)
    info = await nats_bus.js.stream_info(nats_bus.namespace.stream(JOBS))
    assert info.state.messages == 1


async def test_job_is_redelivered_when_its_worker_dies(nats_bus_factory: Any) -> None:
    worker_a: Bus = await nats_bus_factory("worker-a")
    await worker_a.ensure_streams()
    started = asyncio.Event()

    async def hang(message: EntityRef, delivery: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()

    options: dict[str, Any] = {
        "stream": JOBS,
        "durable": "trainer-train",
        "filter_subject": TRAIN,
        "message_type": EntityRef,
        "ack_wait": 1.0,
    }
    dying = await worker_a.consume(handler=hang, **options)
    await worker_a.publish(TRAIN, ref("r1"), "job-r1")
    await asyncio.wait_for(started.wait(), 5)
    await worker_a.nc.close()  # the process is gone: nothing acks, naks or sends in_progress
    await dying.stop(grace=0)

    worker_b: Bus = await nats_bus_factory("worker-b")
    recorder = Recorder()
    await worker_b.consume(handler=recorder, **options)
    await eventually(lambda: recorder.seen, what="the redelivered job")
    assert recorder.ids == ["r1"]
    assert recorder.seen[0][1].num_delivered == 2


async def test_nak_redelivers(nats_bus: Bus) -> None:
    attempts: list[int] = []

    async def flaky(message: EntityRef, delivery: Delivery) -> None:
        attempts.append(delivery.num_delivered)
        if delivery.num_delivered == 1:
            raise Retry("registry busy", delay=0.1)

    await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=flaky, ack_wait=30.0,
    )  # fmt: skip
    await eventually(lambda: attempts == [1, 2], what="two deliveries")
    await eventually(lambda: _stream_empty(nats_bus, JOBS), what="the ack to empty the queue")


async def test_transient_failures_end_in_term_after_max_deliver(nats_bus: Bus) -> None:
    last_flags: list[bool] = []

    async def broken(message: EntityRef, delivery: Delivery) -> None:
        last_flags.append(delivery.is_last_attempt)
        raise RuntimeError("dataset store down")

    await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=broken, max_deliver=2, retry_delay=0.05,
    )  # fmt: skip
    await eventually(lambda: last_flags == [False, True], what="two attempts")
    await eventually(lambda: _stream_empty(nats_bus, JOBS), what="the work queue to drop it")


async def test_term_is_not_redelivered(nats_bus: Bus) -> None:
    calls: list[int] = []

    async def refuse(message: EntityRef, delivery: Delivery) -> None:
        calls.append(delivery.num_delivered)
        raise Poison("unknown algorithm")

    await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    consumer = await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=refuse, ack_wait=0.5,
    )  # fmt: skip
    await eventually(lambda: _stream_empty(nats_bus, JOBS), what="term to remove the job")
    info = await consumer.info()
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
    assert calls == [1]


async def test_poison_payloads_are_termed_and_the_loop_goes_on(nats_bus: Bus) -> None:
    recorder = Recorder()
    subject = nats_bus.namespace.subject(TRAIN)
    await nats_bus.js.publish(subject, b"\x0a\xff", headers={"Nats-Msg-Id": "garbage"})
    wrong_type = {CONTENT_TYPE_HEADER: content_type(Timestamp), "Nats-Msg-Id": "wrong"}
    await nats_bus.js.publish(subject, Timestamp(seconds=5).SerializeToString(), headers=wrong_type)
    await nats_bus.publish(TRAIN, ref("good"), "good")

    consumer = await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=recorder, batch=1,
    )  # fmt: skip
    await eventually(lambda: recorder.seen, what="the good job")
    await eventually(lambda: _stream_empty(nats_bus, JOBS), what="all three settled")
    assert recorder.ids == ["good"]
    assert (await consumer.info()).num_redelivered == 0


async def test_in_progress_heartbeats_hold_a_long_job(nats_bus: Bus) -> None:
    deliveries: list[int] = []

    async def long_job(message: EntityRef, delivery: Delivery) -> None:
        deliveries.append(delivery.num_delivered)
        await asyncio.sleep(2.5)  # the job's work: 2.5 x ack_wait

    await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    consumer = await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=long_job, ack_wait=1.0, heartbeat=True, concurrency=2,
    )  # fmt: skip
    await eventually(lambda: _stream_empty(nats_bus, JOBS), timeout=8, what="the job to finish")
    assert deliveries == [1]  # a free slot was there to take a redelivery: none came
    assert (await consumer.info()).num_redelivered == 0


async def test_stop_lets_inflight_handlers_finish(nats_bus: Bus) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(message: EntityRef, delivery: Delivery) -> None:
        started.set()
        await release.wait()

    await nats_bus.publish(TRAIN, ref("r1"), "job-r1")
    consumer = await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=slow,
    )  # fmt: skip
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(consumer.stop(grace=5.0))
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert not consumer.running
    await eventually(lambda: _stream_empty(nats_bus, JOBS), what="the ack")


async def test_stop_ends_the_pull_loop_even_when_a_cancel_is_lost(nats_bus: Bus) -> None:
    """nats-py turns the cancel of a waiting next_msg into ConnectionClosedError when the
    connection closed meanwhile, and the loop takes that for a failed pull. stop() must still
    end the loop, not wait for it forever (a test session once hung there at teardown)."""
    consumer = await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=Recorder(),
    )  # fmt: skip
    subscription = consumer._sub
    assert subscription is not None
    real_next_msg = subscription.next_msg
    lost: list[bool] = []

    async def loses_cancels(timeout: float = 1.0) -> Any:
        try:
            return await real_next_msg(timeout=timeout)
        except asyncio.CancelledError:
            lost.append(True)
            raise ConnectionClosedError from None

    subscription.next_msg = loses_cancels  # type: ignore[method-assign]
    await asyncio.sleep(0.3)  # the loop now waits in a pull
    await asyncio.wait_for(consumer.stop(grace=0), 10)
    assert lost and not consumer.running


async def test_stop_past_grace_naks_for_prompt_redelivery(nats_bus_factory: Any) -> None:
    bus: Bus = await nats_bus_factory()
    await bus.ensure_streams()
    started = asyncio.Event()

    async def hang(message: EntityRef, delivery: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()

    options: dict[str, Any] = {
        "stream": JOBS,
        "durable": "trainer-train",
        "filter_subject": TRAIN,
        "message_type": EntityRef,
        "ack_wait": 30.0,  # far beyond the test: only the nak can bring it back this soon
    }
    first = await bus.consume(handler=hang, **options)
    await bus.publish(TRAIN, ref("r1"), "job-r1")
    await asyncio.wait_for(started.wait(), 5)
    await first.stop(grace=0.1)

    recorder = Recorder()
    await bus.consume(handler=recorder, **options)
    await eventually(lambda: recorder.seen, what="the nak'd job")
    assert recorder.seen[0][1].num_delivered == 2


async def test_concurrency_is_bounded_and_every_message_handled_once(nats_bus: Bus) -> None:
    running = 0
    peak = 0
    handled: list[str] = []

    async def work(message: EntityRef, delivery: Delivery) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        handled.append(message.id)

    for i in range(30):
        await nats_bus.publish(TRAIN, ref(f"r{i}"), f"job-{i}")
    await nats_bus.consume(
        stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
        handler=work, concurrency=4, batch=3,
    )  # fmt: skip
    await eventually(lambda: len(handled) == 30, what="all 30 jobs")
    assert sorted(handled) == sorted(f"r{i}" for i in range(30))
    assert 1 < peak <= 4


async def test_control_request_reply_and_publish(nats_bus: Bus) -> None:
    got: list[tuple[str, str]] = []

    async def on_cancel(message: EntityRef, subject: str) -> EntityRef:
        got.append((subject, message.id))
        return EntityRef(kind=ENTITY_KIND_RUN, id=f"cancelled {message.id}")

    await nats_bus.subscribe_control("aimass.control.run.*.cancel", EntityRef, on_cancel)
    reply = await nats_bus.request_control("aimass.control.run.r1.cancel", ref("r1"), EntityRef)
    assert reply is not None and reply.id == "cancelled r1"
    await nats_bus.publish_control("aimass.control.run.r2.cancel", ref("r2"))
    await eventually(lambda: len(got) == 2, what="the published cancel")
    assert got == [("aimass.control.run.r1.cancel", "r1"), ("aimass.control.run.r2.cancel", "r2")]
    nobody = await nats_bus.request_control("aimass.control.run.r3.stop", ref("r3"), EntityRef)
    assert nobody is None
    with pytest.raises(ValueError, match="aimass.control."):
        await nats_bus.publish_control("aimass.jobs.train", ref("r4"))


async def test_connect_to_a_dead_port_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    began = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await connect(url, name="test", connect_timeout=1.0)
    assert time.monotonic() - began < 3.0
    assert url in caught.value.message and "AIMASS_NATS_URL" in caught.value.message


async def test_consuming_before_the_streams_exist_says_what_to_do(nats_bus_factory: Any) -> None:
    bus: Bus = await nats_bus_factory()
    with pytest.raises(FailedPrecondition, match="ensure_streams"):
        await bus.consume(
            stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
            handler=Recorder(),
        )  # fmt: skip


async def test_durable_consumer_settings_follow_the_code(nats_bus: Bus) -> None:
    options: dict[str, Any] = {
        "stream": JOBS,
        "durable": "trainer-train",
        "filter_subject": TRAIN,
        "message_type": EntityRef,
        "handler": Recorder(),
    }
    first = await nats_bus.consume(ack_wait=30.0, max_deliver=5, **options)
    await first.stop()
    second = await nats_bus.consume(ack_wait=10.0, max_deliver=3, **options)
    config = (await second.info()).config
    assert (config.ack_wait, config.max_deliver) == (pytest.approx(10.0), 3)


async def test_consumer_survives_a_server_restart(private_nats_server: Any) -> None:
    bus = await connect(private_nats_server.url, name="restart-test", connect_timeout=5)
    try:
        await bus.ensure_streams()
        recorder = Recorder()
        await bus.consume(
            stream=JOBS, durable="trainer-train", filter_subject=TRAIN, message_type=EntityRef,
            handler=recorder, fetch_timeout=1.0,
        )  # fmt: skip
        await bus.publish(TRAIN, ref("before"), "before")
        await eventually(lambda: recorder.ids == ["before"], what="the first job")

        private_nats_server.stop()
        private_nats_server.start()

        async def published() -> bool:
            try:
                await bus.publish(TRAIN, ref("after"), "after", timeout=0.5)
            except Unavailable:
                return False
            return True

        await eventually(published, timeout=10, what="a publish after the restart")
        await eventually(lambda: recorder.ids == ["before", "after"], what="the second job")
    finally:
        await bus.close(grace=1.0)


async def _stream_empty(bus: Bus, stream: str) -> bool:
    info = await bus.js.stream_info(bus.namespace.stream(stream))
    return info.state.messages == 0


async def test_listen_sees_live_messages_only_and_skips_garbage(nats_bus: Bus) -> None:
    await nats_bus.publish(CREATED, EntityRef(kind=ENTITY_KIND_MODEL, id="before"), "before")
    seen: list[EntityRef] = []

    async def record(message: EntityRef) -> None:
        seen.append(message)

    subscription = await nats_bus.listen("aimass.registry.model.>", EntityRef, record)
    try:
        await nats_bus.nc.publish(nats_bus.namespace.subject(CREATED), b"\x0a\xff")
        await nats_bus.publish(CREATED, EntityRef(kind=ENTITY_KIND_MODEL, id="after"), "after")
        await eventually(lambda: seen, what="the live message")
        assert [m.id for m in seen] == ["after"]
    finally:
        await subscription.unsubscribe()
    await nats_bus.publish(CREATED, EntityRef(kind=ENTITY_KIND_MODEL, id="later"), "later")
    await asyncio.sleep(0.3)
    assert [m.id for m in seen] == ["after"]
