"""The prediction log: rows as JSON, subjects, and publishing over a real NATS JetStream server."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from nats.js.api import RawStreamMsg

from aimass.events.v1.events_pb2 import PredictionRecord
from services.common.bus import MSG_ID_HEADER, PREDICTIONS, Bus
from services.common.bus.namespace import validate_subject
from services.common.errors import Unavailable
from services.predictor.predlog import (
    TRUNCATED_KEY,
    PredictionLog,
    model_of_subject,
    new_prediction_id,
    prediction_subject,
    rows_json,
    sampled,
)
from tests.integration import conftest as bus_fixtures

# The integration folder's NATS fixtures: a bus per test namespace, its streams deleted after.
nats_test_url = bus_fixtures.nats_test_url
nats_namespace = bus_fixtures.nats_namespace
nats_bus_factory = bus_fixtures.nats_bus_factory
nats_bus = bus_fixtures.nats_bus

integration = pytest.mark.integration


def record(
    model: str = "iris", prediction_id: str | None = None, **fields: Any
) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id or new_prediction_id(),
        model=model,
        model_version=3,
        queue_us=120,
        compute_us=480,
        total_us=700,
        status="OK",
        **fields,
    )


async def eventually(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def stored(bus: Bus) -> list[tuple[str, str, PredictionRecord]]:
    """(logical subject, msg id, record) for every message in the test's predictions stream."""
    stream = bus.namespace.stream(PREDICTIONS)
    info = await bus.js.stream_info(stream)
    result = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg: RawStreamMsg = await bus.js.get_msg(stream, seq)
        assert msg.subject is not None and msg.data is not None
        parsed = PredictionRecord.FromString(msg.data)
        headers = msg.headers or {}
        result.append((bus.namespace.logical_subject(msg.subject), headers[MSG_ID_HEADER], parsed))
    return result


# -- ids, sampling, subjects ----------------------------------------------------------------------


def test_prediction_ids_are_unique_hex() -> None:
    ids = {new_prediction_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_sampling_rates() -> None:
    rng = random.Random(7)
    assert not any(sampled(0.0, rng) for _ in range(1000))
    assert all(sampled(1.0, rng) for _ in range(1000))
    hits = sum(sampled(0.25, rng) for _ in range(10_000))
    assert 2200 < hits < 2800


@pytest.mark.parametrize(
    ("model", "token"),
    [
        ("iris", "iris"),
        ("fraud-v2_b", "fraud-v2_b"),
        ("iris.v2", "iris%2Ev2"),
        ("a*b>c d\te", "a%2Ab%3Ec%20d%09e"),
        ("100%", "100%25"),
        ("modèle", "mod%C3%A8le"),
    ],
)
def test_subject_tokens_are_valid_and_reversible(model: str, token: str) -> None:
    subject = prediction_subject(model)
    assert subject == f"aimass.predictions.{token}"
    assert validate_subject(subject) == subject
    assert len(subject.split(".")) == 3
    assert model_of_subject(subject) == model


def test_subject_needs_a_model() -> None:
    with pytest.raises(ValueError, match="model name"):
        prediction_subject("")
    with pytest.raises(ValueError, match="not a prediction subject"):
        model_of_subject("aimass.registry.model.created")


# -- rows as JSON ---------------------------------------------------------------------------------


def test_rows_json_converts_values() -> None:
    text = rows_json(
        {
            "x": np.array([[1.5, np.nan], [np.inf, -np.inf]], dtype=np.float32),
            "n": np.array([1, 2], dtype=np.int64),
            "ok": np.array([True, False]),
            "s": np.array([b"caf\xc3\xa9", b"\xff\xfe"], dtype=object),
            "fixed": np.array([b"ab", b"c"], dtype="S2"),
            "u": np.array(["x", "y"]),
            "obj": np.array([np.float64(2.5), None], dtype=object),
        }
    )
    assert json.loads(text) == {
        "x": [[1.5, None], [None, None]],
        "n": [1, 2],
        "ok": [True, False],
        "s": ["café", "\ufffd\ufffd"],
        "fixed": ["ab", "c"],
        "u": ["x", "y"],
        "obj": [2.5, None],
    }
    assert "NaN" not in text and "Infinity" not in text


def test_rows_json_scalars_and_empty() -> None:
    assert json.loads(rows_json({})) == {}
    assert json.loads(rows_json({"t": np.array(np.float64(np.nan)), "k": np.array(4)})) == {
        "t": None,
        "k": 4,
    }
    assert json.loads(rows_json({"e": np.zeros((0, 3))})) == {"e": []}


def test_rows_json_truncates_rows_and_says_so() -> None:
    columns = {"a": np.arange(250), "b": np.arange(250, dtype=np.float64)}
    body = json.loads(rows_json(columns, max_rows=100))
    assert body["a"] == list(range(100)) and len(body["b"]) == 100
    assert body[TRUNCATED_KEY] == 150

    wide = {"w": np.ones((20, 1000))}  # 1000 values a row: 10 rows fit 10k values
    body = json.loads(rows_json(wide, max_values=10_000))
    assert len(body["w"]) == 10 and body[TRUNCATED_KEY] == 10

    huge_row = {"w": np.ones((2, 50_000))}
    assert json.loads(rows_json(huge_row)) == {"w": [], TRUNCATED_KEY: 2}


def test_rows_json_bounds_its_size_in_characters() -> None:
    long_text = np.array(["x" * 10_000] * 50, dtype=object)
    text = rows_json({"doc": long_text}, max_chars=64 * 1024)
    body = json.loads(text)
    assert len(text) <= 64 * 1024
    assert 0 < len(body["doc"]) < 50 and body[TRUNCATED_KEY] == 50 - len(body["doc"])


# -- publishing over NATS -------------------------------------------------------------------------


@integration
async def test_records_land_in_order_on_their_subjects(nats_bus: Bus) -> None:
    sent = [record("iris.v2"), record("iris.v2"), record("fraud"), record("iris.v2")]
    sent[0].inputs_json = rows_json({"x": np.array([[1.0, 2.0]])})
    async with PredictionLog(nats_bus, capacity=10, instance="pred-1") as log:
        assert all(log.offer(r) for r in sent)
        await eventually(lambda: log.published == 4, what="4 published records")
    assert (log.published, log.dropped, log.queued) == (4, 0, 0)

    got = await stored(nats_bus)
    assert [(subject, msg_id) for subject, msg_id, _ in got] == [
        (prediction_subject(r.model), r.prediction_id) for r in sent
    ]
    assert got[0][0] == "aimass.predictions.iris%2Ev2"
    first = got[0][2]
    assert first.prediction_id == sent[0].prediction_id
    assert (first.model, first.model_version, first.status) == ("iris.v2", 3, "OK")
    assert (first.queue_us, first.compute_us, first.total_us) == (120, 480, 700)
    assert json.loads(first.inputs_json) == {"x": [[1.0, 2.0]]}
    assert {r.predictor_instance for _, _, r in got} == {"pred-1"}
    assert {r.dropped_since_last for _, _, r in got} == {0}


@integration
async def test_full_buffer_drops_and_the_next_record_reports_it(nats_bus: Bus) -> None:
    async with PredictionLog(nats_bus, capacity=3) as log:
        # No await in between: the publisher cannot run, so the buffer fills.
        accepted = [log.offer(record(prediction_id=f"p{i}")) for i in range(5)]
        assert accepted == [True, True, True, False, False]
        assert (log.dropped, log.queued) == (2, 3)
        await eventually(lambda: log.published == 3, what="the buffered records")
        assert log.offer(record(prediction_id="p-after"))
        await eventually(lambda: log.published == 4, what="the record after the gap")

    got = await stored(nats_bus)
    assert [(msg_id, r.dropped_since_last) for _, msg_id, r in got] == [
        ("p0", 0),
        ("p1", 0),
        ("p2", 0),
        ("p-after", 2),
    ]


@integration
async def test_offer_never_waits_and_order_holds(nats_bus: Bus) -> None:
    sent = [record(prediction_id=f"r{i:04d}") for i in range(1000)]
    async with PredictionLog(nats_bus, capacity=1000, window=32) as log:
        started = time.perf_counter()
        for one in sent:
            log.offer(one)
        assert time.perf_counter() - started < 0.1
        await eventually(lambda: log.published == 1000, timeout=20, what="1000 records")
    got = await stored(nats_bus)  # published 32 at a time, stored in order
    assert [msg_id for _, msg_id, _ in got] == [r.prediction_id for r in sent]


@integration
async def test_a_repeated_prediction_id_is_stored_once(nats_bus: Bus) -> None:
    async with PredictionLog(nats_bus) as log:
        log.offer(record(prediction_id="same-id"))
        log.offer(record(prediction_id="same-id"))
        await eventually(lambda: log.published == 2, what="both publishes acknowledged")
    got = await stored(nats_bus)
    assert [msg_id for _, msg_id, _ in got] == ["same-id"]


@integration
async def test_queued_records_are_flushed_on_exit(nats_bus: Bus) -> None:
    async with PredictionLog(nats_bus, flush_grace=5.0) as log:
        for i in range(20):
            log.offer(record(prediction_id=f"f{i}"))
    assert (log.published, log.dropped) == (20, 0)
    assert [msg_id for _, msg_id, _ in await stored(nats_bus)] == [f"f{i}" for i in range(20)]
    assert not log.offer(record())  # stopped: refused and counted
    assert log.dropped == 1


@integration
async def test_publish_failures_are_counted_not_raised(
    nats_bus_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    live: Bus = await nats_bus_factory("live")
    await live.ensure_streams()
    dead: Bus = await nats_bus_factory("dead")
    await dead.nc.close()  # NATS gone for this process

    caplog.set_level(logging.WARNING, logger="services.predictor.predlog")
    async with PredictionLog(dead, publish_timeout=0.5) as log:
        assert all(log.offer(record(prediction_id=f"lost{i}")) for i in range(3))
        await eventually(lambda: log.dropped == 3, what="three failed publishes")
        assert log.published == 0
        failures = [r for r in caplog.records if "publishing failed" in r.getMessage()]
        assert len(failures) == 1  # at most once per interval

        log.bus = live  # NATS is back
        assert log.offer(record(prediction_id="back"))
        await eventually(lambda: log.published == 1, what="the first record after the outage")
    got = await stored(live)
    assert [(msg_id, r.dropped_since_last) for _, msg_id, r in got] == [("back", 3)]


async def test_shutdown_past_grace_counts_the_rest_as_dropped() -> None:
    class Slow:
        async def publish(self, *args: Any, **kwargs: Any) -> None:
            await asyncio.sleep(10)

    async with PredictionLog(Slow(), flush_grace=0.2) as log:
        for _ in range(5):
            log.offer(record())
        await asyncio.sleep(0.05)  # one publish in flight when the log stops
    assert (log.published, log.dropped, log.queued) == (0, 5, 0)


@integration
async def test_a_failed_publish_in_a_window_is_reported_by_a_later_record(nats_bus: Bus) -> None:
    class Flaky:
        """The real bus, except that one record's publish fails."""

        async def publish(self, subject: str, message: Any, msg_id: str, **kwargs: Any) -> Any:
            if msg_id == "b":
                raise Unavailable("NATS did not acknowledge")
            return await nats_bus.publish(subject, message, msg_id, **kwargs)

    async with PredictionLog(Flaky(), window=8) as log:
        for name in "abcd":
            log.offer(record(prediction_id=name))
        await eventually(lambda: log.published + log.dropped == 4, what="a to d")
        log.offer(record(prediction_id="e"))
        await eventually(lambda: log.published == 4, what="e")
    got = await stored(nats_bus)
    assert [(msg_id, r.dropped_since_last) for _, msg_id, r in got] == [
        ("a", 0),
        ("c", 0),  # in flight with b: b's failure was not known yet
        ("d", 0),
        ("e", 1),
    ]
    assert (log.published, log.dropped) == (4, 1)
