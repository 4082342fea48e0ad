"""The three JetStream streams of DESIGN.md §3, provisioned idempotently at start.

``ensure_streams`` adds a missing stream, updates one whose managed settings differ, and never
deletes a stream or its data. ``aimass.control.>`` belongs to no stream (core NATS only).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from services.common.bus.namespace import Namespace, validate_name, validate_subject
from services.common.errors import FailedPrecondition

logger = logging.getLogger(__name__)

JOBS = "AIMASS_JOBS"
EVENTS = "AIMASS_EVENTS"
PREDICTIONS = "AIMASS_PREDICTIONS"
EVENT_PRODUCERS = ("registry", "ingest", "trainer", "predictor", "monitor", "gateway")
CONTROL_PREFIX = "aimass.control."

DAY = 86_400.0
_STREAM_NAME_IN_USE = 10058  # JetStream: "stream name already in use with a different config"


@dataclass(frozen=True)
class StreamLimits:
    """Operator-tunable limits; times in seconds, sizes in bytes, ``None`` means unlimited."""

    events_max_age: float = 7 * DAY
    predictions_max_age: float = 3 * DAY
    predictions_max_bytes: int = 1 << 30
    jobs_max_age: float | None = None
    duplicate_window: float = 120.0
    replicas: int = 1


@dataclass(frozen=True)
class StreamSpec:
    """One stream, named and addressed without namespace."""

    name: str
    subjects: tuple[str, ...]
    retention: RetentionPolicy
    description: str = ""
    max_age: float | None = None
    max_bytes: int | None = None
    duplicate_window: float = 120.0
    storage: StorageType = StorageType.FILE
    replicas: int = 1
    discard: DiscardPolicy = field(default=DiscardPolicy.OLD)

    def __post_init__(self) -> None:
        validate_name(self.name, "stream name")
        for subject in self.subjects:
            validate_subject(subject, wildcards=True)
        if self.max_age and self.duplicate_window > self.max_age:
            raise ValueError(f"stream {self.name}: duplicate_window must not exceed max_age")

    def config(self, namespace: Namespace) -> StreamConfig:
        return StreamConfig(
            name=namespace.stream(self.name),
            description=self.description or None,
            subjects=[namespace.subject(s) for s in self.subjects],
            retention=self.retention,
            storage=self.storage,
            max_age=self.max_age or 0,
            max_bytes=self.max_bytes if self.max_bytes is not None else -1,
            duplicate_window=self.duplicate_window,
            num_replicas=self.replicas,
            discard=self.discard,
        )


def default_streams(limits: StreamLimits | None = None) -> tuple[StreamSpec, ...]:
    limits = limits or StreamLimits()
    return (
        StreamSpec(
            name=JOBS,
            subjects=("aimass.jobs.>",),
            retention=RetentionPolicy.WORK_QUEUE,
            description="AI Mass jobs: each delivered to exactly one worker",
            max_age=limits.jobs_max_age,
            duplicate_window=limits.duplicate_window,
            replicas=limits.replicas,
        ),
        StreamSpec(
            name=EVENTS,
            subjects=tuple(f"aimass.{producer}.>" for producer in EVENT_PRODUCERS),
            retention=RetentionPolicy.LIMITS,
            description="AI Mass events: facts other services react to",
            max_age=limits.events_max_age,
            duplicate_window=limits.duplicate_window,
            replicas=limits.replicas,
        ),
        StreamSpec(
            name=PREDICTIONS,
            subjects=("aimass.predictions.>",),
            retention=RetentionPolicy.LIMITS,
            description="AI Mass sampled prediction logs",
            max_age=limits.predictions_max_age,
            max_bytes=limits.predictions_max_bytes,
            duplicate_window=limits.duplicate_window,
            replicas=limits.replicas,
        ),
    )


class StreamOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _differences(have: StreamConfig, want: StreamConfig) -> list[str]:
    """The managed settings that differ; everything else on the server is left alone."""
    diffs = []
    if sorted(have.subjects or []) != sorted(want.subjects or []):
        diffs.append("subjects")
    for name in ("retention", "storage", "discard", "max_bytes", "num_replicas", "description"):
        if getattr(have, name) != getattr(want, name):
            diffs.append(name)
    for name in ("max_age", "duplicate_window"):
        if abs(float(getattr(have, name) or 0) - float(getattr(want, name) or 0)) > 1e-3:
            diffs.append(name)
    return diffs


async def ensure_stream(
    js: JetStreamContext, spec: StreamSpec, namespace: Namespace
) -> StreamOutcome:
    want = spec.config(namespace)
    assert want.name is not None
    for _ in range(2):  # a second pass only when another process created it meanwhile
        try:
            info = await js.stream_info(want.name)
        except NotFoundError:
            try:
                await js.add_stream(want)
            except APIError as exc:
                if exc.err_code == _STREAM_NAME_IN_USE:
                    continue
                raise _refused(want.name, "create", exc) from exc
            logger.info(
                "created stream %s (subjects %s)", want.name, ", ".join(want.subjects or [])
            )
            return StreamOutcome.CREATED
        diffs = _differences(info.config, want)
        if not diffs:
            return StreamOutcome.UNCHANGED
        try:
            await js.update_stream(want)
        except APIError as exc:
            raise _refused(want.name, f"update {', '.join(diffs)} of", exc) from exc
        logger.info("updated stream %s: %s", want.name, ", ".join(diffs))
        return StreamOutcome.UPDATED
    raise FailedPrecondition(f"stream {want.name} keeps changing under us; retry the start")


def _refused(name: str, action: str, exc: APIError) -> FailedPrecondition:
    return FailedPrecondition(
        f"NATS refused to {action} stream {name}: {exc.description} (err_code {exc.err_code}). "
        "Some settings (storage, retention, overlapping subjects) cannot change in place: "
        "see docs/bus.md, 'Changing a stream'."
    )


async def ensure_streams(
    js: JetStreamContext, specs: Iterable[StreamSpec], namespace: Namespace
) -> dict[str, StreamOutcome]:
    return {spec.name: await ensure_stream(js, spec, namespace) for spec in specs}
