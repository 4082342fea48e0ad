"""Projects: the tenancy unit every dataset, run, model and deployment belongs to."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from aimass.registry.v1 import registry_pb2 as pb
from services.common.db import utcnow
from services.common.db.pages import decode_cursor, encode_cursor, page_size
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from services.common.validation import (
    MAX_DESCRIPTION,
    MAX_TAG_VALUE,
    validate_mapping,
    validate_name,
    validate_text,
)
from services.registry import convert, models
from services.registry.core import Caller, Database, Kind, new_id, project_by_ref

LIVE_CHILDREN = (models.Dataset, models.Model, models.Deployment, models.Run)


class ProjectService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, caller: Caller, request: pb.CreateProjectRequest) -> pb.Project:
        validate_name(request.name, "project name")
        validate_text(request.description, "description", MAX_DESCRIPTION)
        labels = validate_mapping(request.labels, "label", MAX_TAG_VALUE)
        try:
            async with self.db.unit(caller) as work:
                row = models.Project(
                    id=new_id(),
                    name=request.name,
                    description=request.description,
                    labels=labels,
                    created_by=caller.actor,
                )
                work.session.add(row)
                await work.session.flush()
                work.changed(Kind.ENTITY_KIND_PROJECT, row.id, "created", row.id, row.name)
        except IntegrityError:
            raise AlreadyExists(
                f"project {request.name!r} already exists (possibly deleted: restore it or "
                "choose another name)"
            ) from None
        return convert.project(row)

    async def get(self, request: pb.GetProjectRequest) -> pb.Project:
        async with self.db.read() as session:
            row = await project_by_ref(session, request.project, request.include_deleted)
        return convert.project(row)

    async def list(self, request: pb.ListProjectsRequest) -> pb.ListProjectsResponse:
        size = page_size(request.page.page_size)
        fingerprint = f"{request.include_deleted}:{request.name_contains}"
        cursor = decode_cursor(request.page.page_token, fingerprint)
        query = select(models.Project).order_by(models.Project.name)
        if cursor is not None:
            query = query.where(models.Project.name > cursor.value)
        if not request.include_deleted:
            query = query.where(models.Project.deleted_at.is_(None))
        if request.name_contains:
            query = query.where(
                func.lower(models.Project.name).contains(
                    request.name_contains.lower(), autoescape=True
                )
            )
        async with self.db.read() as session:
            rows = list((await session.execute(query.limit(size + 1))).scalars())
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_cursor(rows[-1].name, rows[-1].id, "text", fingerprint)
        return pb.ListProjectsResponse(
            projects=[convert.project(r) for r in rows], page={"next_page_token": token}
        )

    async def update(self, caller: Caller, request: pb.UpdateProjectRequest) -> pb.Project:
        unknown = set(request.update_mask) - {"description", "labels"}
        if unknown:
            raise InvalidArgument(f"cannot update {sorted(unknown)}; update description or labels")
        async with self.db.unit(caller) as work:
            row = await project_by_ref(work.session, request.project)
            if "description" in request.update_mask:
                row.description = validate_text(request.description, "description", MAX_DESCRIPTION)
            if "labels" in request.update_mask:
                row.labels = validate_mapping(request.labels, "label", MAX_TAG_VALUE)
            row.updated_at = utcnow()
            work.changed(
                Kind.ENTITY_KIND_PROJECT,
                row.id,
                "updated",
                row.id,
                row.name,
                tuple(request.update_mask),
            )
        return convert.project(row)

    async def delete(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            row = await project_by_ref(work.session, request.id or request.project)
            for child in LIVE_CHILDREN:
                query = select(
                    exists().where(child.project_id == row.id, child.deleted_at.is_(None))
                )
                if (await work.session.execute(query)).scalar():
                    raise FailedPrecondition(
                        f"project {row.name!r} still holds live {child.__tablename__}; "
                        "delete them first"
                    )
            row.deleted_at = utcnow()
            work.changed(Kind.ENTITY_KIND_PROJECT, row.id, "deleted", row.id, row.name)
            response = pb.DeleteResponse()
            response.deleted_at.FromDatetime(row.deleted_at)
        return response

    async def restore(self, caller: Caller, request: pb.RestoreRequest) -> pb.Project:
        async with self.db.unit(caller) as work:
            row = await project_by_ref(work.session, request.id or request.project, True)
            if row.deleted_at is None:
                raise FailedPrecondition(f"project {row.name!r} is not deleted; nothing to restore")
            row.deleted_at = None
            row.updated_at = utcnow()
            work.changed(Kind.ENTITY_KIND_PROJECT, row.id, "restored", row.id, row.name)
        return convert.project(row)
