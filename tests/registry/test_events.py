"""Registry events, consumed from the real AIMASS_EVENTS stream in the registry's bus namespace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import nats
import pytest

from aimass.common.v1 import common_pb2 as common
from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.bus import EVENTS, Delivery, connect
from tests.conftest import nats_url
from tests.registry.conftest import RegistryHandle

DEADLINE_SECONDS = 15.0


@dataclass(frozen=True)
class Seen:
    event: events_pb2.Event
    subject: str
    msg_id: str


class Events:
    """What a durable consumer of aimass.registry.> received, in stream order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def handle(self, event: events_pb2.Event, delivery: Delivery) -> None:
        self.seen.append(Seen(event, delivery.subject, delivery.msg_id))

    async def wait_for(self, what: str, predicate: Callable[[Seen], bool]) -> Seen:
        """The first event matching ``predicate``, polling until a deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_SECONDS
        while True:
            for item in self.seen:
                if predicate(item):
                    return item
            if loop.time() > deadline:
                subjects = [item.subject for item in self.seen[-20:]]
                raise AssertionError(f"no {what} event within {DEADLINE_SECONDS}s; {subjects}")
            await asyncio.sleep(0.02)

    def of_project(self, project_id: str) -> list[Seen]:
        return [item for item in self.seen if item.event.project_id == project_id]


@pytest.fixture
async def events(registry: RegistryHandle) -> AsyncIterator[Events]:
    namespace = registry.settings.bus_namespace
    bus = await connect(nats_url(), name="registry-events-test", namespace=namespace)
    durable = f"test-events-{uuid.uuid4().hex[:8]}"
    received = Events()
    try:
        await bus.consume(
            stream=EVENTS,
            durable=durable,
            filter_subject="aimass.registry.>",
            message_type=events_pb2.Event,
            handler=received.handle,
            fetch_timeout=1.0,
        )
        yield received
    finally:
        await bus.close(grace=1)
        nc = await nats.connect(nats_url(), connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().delete_consumer(f"{namespace}_{EVENTS}", durable)
        finally:
            await nc.close()


def meta(actor: str, request_id: str = "") -> tuple[tuple[str, str], ...]:
    headers = [("x-aimass-actor", actor)]
    if request_id:
        headers.append(("x-request-id", request_id))
    return tuple(headers)


def check_envelope(
    item: Seen, subject: str, project_id: str, actor: str, window: tuple[datetime, datetime]
) -> None:
    event = item.event
    assert item.subject == event.subject == subject
    assert event.event_id and item.msg_id == event.event_id
    assert event.producer == "registry" and event.project_id == project_id
    assert event.actor == actor
    occurred = event.occurred_at.ToDatetime(tzinfo=UTC)
    assert window[0] - timedelta(seconds=1) <= occurred <= window[1] + timedelta(seconds=1)


def moved_to(version: int) -> Callable[[Seen], bool]:
    return lambda item: item.event.alias_moved.move.to_version == version


def changed(subject: str, entity_id: str) -> Callable[[Seen], bool]:
    return lambda item: item.subject == subject and item.event.entity_changed.entity.id == entity_id


async def test_changes_are_published_once_with_envelope_and_body(
    registry: RegistryHandle, events: Events
) -> None:
    stub = registry.stub
    started = datetime.now(UTC)
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    project = await stub.CreateProject(
        pb.CreateProjectRequest(name=f"ev-{uuid.uuid4().hex[:8]}"),
        metadata=meta("alice", request_id),
        timeout=5,
    )
    dataset = await stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name="iris"),
        metadata=meta("bob"),
        timeout=5,
    )
    version = await stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=project.name, dataset="iris", uri="file:///d/1", row_count=150
        ),
        metadata=meta("bob"),
        timeout=5,
    )
    model_version = await stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            project=project.name,
            model="churn",
            create_model=True,
            framework="xgboost",
            artifact_uri="file:///m/1",
            metrics={"auc": 0.9},
        ),
        metadata=meta("carol"),
        timeout=5,
    )
    await stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            project=project.name, model="churn", framework="xgboost", artifact_uri="file:///m/2"
        ),
        metadata=meta("carol"),
        timeout=5,
    )
    await stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model="churn", alias="prod", version=1),
        metadata=meta("dave"),
        timeout=5,
    )
    deployment = await stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=project.name, name="churn-live", model="churn", alias="prod"
        ),
        metadata=meta("erin"),
        timeout=5,
    )
    await stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model="churn", alias="prod", version=2),
        metadata=meta("dave"),
        timeout=5,
    )
    window = (started, datetime.now(UTC))
    # Events leave the outbox in commit order: once the last change is here, every one is.
    await events.wait_for(
        "deployment following the alias",
        lambda s: (
            s.event.deployment_changed.deployment.id == deployment.id
            and s.event.deployment_changed.change == "updated"
        ),
    )
    mine = events.of_project(project.id)

    def one(subject: str, actor: str, predicate: Callable[[Seen], bool]) -> events_pb2.Event:
        [item] = [s for s in mine if s.subject == subject and predicate(s)]
        check_envelope(item, subject, project.id, actor, window)
        return item.event

    created = one("aimass.registry.project.created", "alice", lambda s: True)
    assert created.request_id == request_id
    body = created.entity_changed
    assert (body.entity.kind, body.entity.id, body.change, body.name) == (
        common.ENTITY_KIND_PROJECT,
        project.id,
        "created",
        project.name,
    )
    body = one("aimass.registry.dataset.created", "bob", lambda s: True).entity_changed
    assert (body.entity.kind, body.entity.id, body.name) == (
        common.ENTITY_KIND_DATASET,
        dataset.id,
        "iris",
    )
    event = one("aimass.registry.dataset.version_created", "bob", lambda s: True)
    assert event.dataset_version_created.dataset_version == version
    body = one("aimass.registry.model.created", "carol", lambda s: True).entity_changed
    assert (body.entity.kind, body.entity.id) == (common.ENTITY_KIND_MODEL, model_version.model_id)
    event = one(
        "aimass.registry.model.version_created",
        "carol",
        lambda s: s.event.model_version_created.model_version.version == 1,
    )
    assert event.model_version_created.model_version == model_version
    for previous, target in ((0, 1), (1, 2)):
        moved = one(
            "aimass.registry.model.alias_moved",
            "dave",
            moved_to(target),
        ).alias_moved
        assert (moved.model, moved.model_id, moved.move.alias) == (
            "churn",
            model_version.model_id,
            "prod",
        )
        assert (moved.move.from_version, moved.move.actor) == (previous, "dave")
    changes = [
        s.event.deployment_changed
        for s in mine
        if s.subject == "aimass.registry.deployment.changed"
    ]
    assert [c.change for c in changes] == ["created", "updated"]
    event = one(
        "aimass.registry.deployment.changed",
        "erin",
        lambda s: s.event.deployment_changed.change == "created",
    )
    assert event.deployment_changed.deployment == deployment
    event = one(
        "aimass.registry.deployment.changed",
        "dave",
        lambda s: s.event.deployment_changed.change == "updated",
    )
    followed = event.deployment_changed.deployment
    assert (followed.revision, followed.resolved_version, followed.alias) == (2, 2, "prod")
    assert [s.subject.removeprefix("aimass.registry.") for s in mine] == [
        "project.created",
        "dataset.created",
        "dataset.version_created",
        "model.created",
        "model.version_created",
        "model.version_created",
        "model.alias_moved",
        "deployment.changed",
        "model.alias_moved",
        "deployment.changed",
    ]
    assert len({item.event.event_id for item in mine}) == len(mine)


async def test_refused_writes_emit_nothing(registry: RegistryHandle, events: Events) -> None:
    stub = registry.stub
    project = await stub.CreateProject(
        pb.CreateProjectRequest(name=f"ev-{uuid.uuid4().hex[:8]}"), timeout=5
    )
    dataset = await stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name="iris"), timeout=5
    )
    refusals = [
        stub.CreateDataset(pb.CreateDatasetRequest(project=project.name, name="iris"), timeout=5),
        stub.CreateDatasetVersion(
            pb.CreateDatasetVersionRequest(
                project=project.name,
                dataset="iris",
                uri="file:///x",
                parent_version_ids=[uuid.uuid4().hex],
            ),
            timeout=5,
        ),
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                project=project.name,
                model="ghost",
                create_model=True,
                framework="xgboost",
                artifact_uri="file:///m",
                source_run_id=uuid.uuid4().hex,
            ),
            timeout=5,
        ),
        stub.SetModelAlias(
            pb.SetModelAliasRequest(project=project.name, model="ghost", alias="prod", version=1),
            timeout=5,
        ),
    ]
    for call in refusals:
        with pytest.raises(grpc.aio.AioRpcError):
            await call
    marker = await stub.UpdateDataset(
        pb.UpdateDatasetRequest(
            project=project.name, dataset="iris", description="marker", update_mask=["description"]
        ),
        timeout=5,
    )
    assert marker.description == "marker"
    # Events leave the outbox in commit order, so once the marker is here nothing earlier is late.
    await events.wait_for("dataset.updated", changed("aimass.registry.dataset.updated", dataset.id))
    subjects = [item.subject for item in events.of_project(project.id)]
    assert subjects == [
        "aimass.registry.project.created",
        "aimass.registry.dataset.created",
        "aimass.registry.dataset.updated",
    ]
