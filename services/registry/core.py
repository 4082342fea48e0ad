"""What the registry's domain parts share: the unit of work, callers, visibility, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common import outbox
from services.common.db import utcnow
from services.common.errors import FailedPrecondition, NotFound
from services.common.logs import request_id_var
from services.common.outbox import Caller, new_id
from services.registry import models

Kind = common_pb2.EntityKind

KIND_NAMES: dict[int, str] = {
    Kind.ENTITY_KIND_PROJECT: "project",
    Kind.ENTITY_KIND_DATASET: "dataset",
    Kind.ENTITY_KIND_DATASET_VERSION: "dataset_version",
    Kind.ENTITY_KIND_RUN: "run",
    Kind.ENTITY_KIND_MODEL: "model",
    Kind.ENTITY_KIND_MODEL_VERSION: "model_version",
    Kind.ENTITY_KIND_DEPLOYMENT: "deployment",
    Kind.ENTITY_KIND_SOURCE: "source",
}
KIND_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}

VISIBILITY_NAMES = {
    common_pb2.VISIBILITY_PRIVATE: "private",
    common_pb2.VISIBILITY_SHARED: "shared",
    common_pb2.VISIBILITY_PUBLIC: "public",
}
VISIBILITY_BY_NAME = {name: value for value, name in VISIBILITY_NAMES.items()}


class UnitOfWork(outbox.UnitOfWork):
    """The common unit of work plus the registry's events: aimass.registry.<entity>.<event>."""

    def emit(self, subject: str, project_id: str, **body: Any) -> None:
        event = events_pb2.Event(
            event_id=new_id(),
            producer="registry",
            subject=f"aimass.registry.{subject}",
            project_id=project_id,
            actor=self.caller.actor,
            request_id=request_id_var.get(),
            **body,
        )
        event.occurred_at.FromDatetime(utcnow())
        self.publish(event.subject, event, event.event_id)

    def changed(
        self,
        kind: int,
        entity_id: str,
        change: str,
        project_id: str,
        name: str = "",
        fields: tuple[str, ...] = (),
    ) -> None:
        """The common event: aimass.registry.<entity>.<change>."""
        body = events_pb2.EntityChanged(
            entity=common_pb2.EntityRef(kind=kind, id=entity_id),  # type: ignore[arg-type]
            change=change,
            name=name,
            fields=fields,
        )
        self.emit(f"{KIND_NAMES[kind]}.{change}", project_id, entity_changed=body)


Database = outbox.Database[UnitOfWork]


async def project_by_ref(
    session: AsyncSession, ref: str, include_deleted: bool = False
) -> models.Project:
    """A project by id or name; the caller's acting project must exist and be live."""
    if not ref:
        raise NotFound("project is required: name the project you act in")
    query = select(models.Project).where(or_(models.Project.id == ref, models.Project.name == ref))
    project = (await session.execute(query)).scalars().first()
    if project is None or (project.deleted_at is not None and not include_deleted):
        raise NotFound(f"project {ref!r} does not exist; create it first or check the name")
    return project


async def acting_project(session: AsyncSession, caller: Caller) -> models.Project:
    return await project_by_ref(session, caller.project)


async def shared_project_ids(session: AsyncSession, kind: str, entity_id: str) -> list[str]:
    rows = await session.execute(
        select(models.Share.project_id).where(
            models.Share.entity_kind == kind, models.Share.entity_id == entity_id
        )
    )
    return list(rows.scalars())


async def can_see(
    session: AsyncSession,
    kind: str,
    owner_project_id: str,
    visibility: str,
    entity_id: str,
    viewer_project_id: str,
) -> bool:
    if owner_project_id == viewer_project_id or visibility == "public":
        return True
    if visibility != "shared":
        return False
    return viewer_project_id in await shared_project_ids(session, kind, entity_id)


class SoftDeletable(Protocol):
    deleted_at: datetime | None


def mark_deleted(row: SoftDeletable, what: str) -> pb.DeleteResponse:
    if row.deleted_at is not None:
        raise FailedPrecondition(f"{what} is already deleted")
    row.deleted_at = utcnow()
    response = pb.DeleteResponse()
    response.deleted_at.FromDatetime(row.deleted_at)
    return response


def mark_restored(row: SoftDeletable, what: str) -> None:
    if row.deleted_at is None:
        raise FailedPrecondition(f"{what} is not deleted; nothing to restore")
    row.deleted_at = None
