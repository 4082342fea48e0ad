"""What datasets and models share: create, get, update, search, delete, restore and sharing.

Both are named per project, owned, tagged and shared the same way (private, shared with named
projects, or public in the catalog), so one implementation serves both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.db import utcnow
from services.common.db.pages import decode_cursor, encode_cursor, page_size
from services.common.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from services.common.validation import MAX_DESCRIPTION, validate_name, validate_text
from services.registry import models
from services.registry.core import (
    KIND_BY_NAME,
    VISIBILITY_NAMES,
    Caller,
    Database,
    UnitOfWork,
    acting_project,
    mark_deleted,
    mark_restored,
    new_id,
)
from services.registry.search import SearchSpec, run_search
from services.registry.tagging import (
    load_sharing,
    load_tags,
    replace_shares,
    resolve_shareable,
    set_tags,
)

Entry = TypeVar("Entry", models.Dataset, models.Model)
T = TypeVar("T")


class Catalog(Generic[Entry]):
    """``kind`` is "dataset" or "model"; subclasses turn rows into messages with ``to_message``."""

    entity: type[Entry]
    kind: str

    def __init__(self, db: Database) -> None:
        self.db = db
        e: Any = self.entity
        self.spec = SearchSpec(
            entity=self.entity,
            tag_kind=self.kind,
            text_fields={
                "name": e.name,
                "owner": e.owner,
                "description": e.description,
                "visibility": e.visibility,
                "project": models.Project.name,
            },
            time_fields={"created_at": e.created_at, "updated_at": e.updated_at},
            number_fields={"latest_version": e.latest_version},
        )

    async def to_messages(self, session: AsyncSession, rows: list[Entry]) -> list[Any]:
        raise NotImplementedError

    @property
    def what(self) -> str:
        return self.kind

    async def resolve(
        self, session: AsyncSession, caller: Caller, ref: str, include_deleted: bool = False
    ) -> tuple[models.Project, Entry]:
        viewer = await acting_project(session, caller)
        if not ref:
            raise InvalidArgument(f"{self.what} is required: give its id or name")
        row = await resolve_shareable(session, self.entity, self.kind, ref, viewer, include_deleted)
        return viewer, row

    async def resolve_owned(
        self, work: UnitOfWork, ref: str, include_deleted: bool = False
    ) -> tuple[models.Project, Entry]:
        viewer, row = await self.resolve(work.session, work.caller, ref, include_deleted)
        if row.project_id != viewer.id:
            raise PermissionDenied(
                f"{self.what} {ref!r} belongs to another project; only its owner can change it"
            )
        return viewer, row

    async def resolve_parent(
        self,
        session: AsyncSession,
        caller: Caller,
        entry_id: str,
        missing: str,
        include_deleted: bool = True,
    ) -> tuple[models.Project, Entry]:
        """The entry a version (looked up by id) belongs to. An entry the caller cannot see is
        reported as ``missing`` (the version), so a version id never reveals its entry."""
        viewer = await acting_project(session, caller)
        try:
            row = await resolve_shareable(
                session, self.entity, self.kind, entry_id, viewer, include_deleted
            )
        except NotFound:
            raise NotFound(missing) from None
        return viewer, row

    async def owned_parent(
        self, work: UnitOfWork, entry_id: str, missing: str
    ) -> tuple[models.Project, Entry]:
        viewer, row = await self.resolve_parent(work.session, work.caller, entry_id, missing)
        if row.project_id != viewer.id:
            raise PermissionDenied(
                f"{self.what} {row.name!r} belongs to another project; only its owner can change it"
            )
        return viewer, row

    async def create_row(
        self, work: UnitOfWork, name: str, description: str, owner: str, tags: dict[str, str]
    ) -> Entry:
        project = await acting_project(work.session, work.caller)
        validate_name(name, f"{self.what} name")
        validate_text(description, "description", MAX_DESCRIPTION)
        project_id, project_name = project.id, project.name  # a failed flush expires the rows
        row = self.entity(
            id=new_id(),
            project_id=project_id,
            name=name,
            description=description,
            owner=owner or work.caller.actor,
            visibility="private",
        )
        work.session.add(row)
        try:
            await work.session.flush()
        except IntegrityError:
            raise AlreadyExists(
                f"{self.what} {name!r} already exists in project {project_name!r} (possibly "
                "deleted: restore it or choose another name)"
            ) from None
        await set_tags(work.session, self.kind, row.id, tags)
        work.changed(KIND_BY_NAME[self.kind], row.id, "created", project_id, name)
        return row

    async def create(self, caller: Caller, request: Any) -> Any:
        async with self.db.unit(caller) as work:
            row = await self.create_row(
                work, request.name, request.description, request.owner, dict(request.tags)
            )
            [message] = await self.to_messages(work.session, [row])
        return message

    async def get(self, caller: Caller, ref: str, include_deleted: bool) -> Any:
        async with self.db.read() as session:
            _, row = await self.resolve(session, caller, ref, include_deleted)
            [message] = await self.to_messages(session, [row])
        return message

    async def update(self, caller: Caller, request: Any, ref: str) -> Any:
        unknown = set(request.update_mask) - {"description", "owner"}
        if unknown or not request.update_mask:
            raise InvalidArgument("update_mask must name description and/or owner")
        async with self.db.unit(caller) as work:
            _, row = await self.resolve_owned(work, ref)
            if "description" in request.update_mask:
                row.description = validate_text(request.description, "description", MAX_DESCRIPTION)
            if "owner" in request.update_mask:
                row.owner = validate_text(request.owner, "owner", 256)
            row.updated_at = utcnow()
            work.changed(
                KIND_BY_NAME[self.kind],
                row.id,
                "updated",
                row.project_id,
                row.name,
                tuple(request.update_mask),
            )
            [message] = await self.to_messages(work.session, [row])
        return message

    async def search(self, caller: Caller, request: pb.SearchRequest) -> tuple[list[Any], str]:
        e: Any = self.entity
        async with self.db.read() as session:
            viewer = await acting_project(session, caller)
            base = select(e).join(models.Project, models.Project.id == e.project_id)
            visible = e.project_id == viewer.id
            if request.include_shared:
                shared = exists().where(
                    models.Share.entity_kind == self.kind,
                    models.Share.entity_id == e.id,
                    models.Share.project_id == viewer.id,
                )
                visible = or_(
                    visible, e.visibility == "public", (e.visibility == "shared") & shared
                )
            base = base.where(visible)
            if not request.include_deleted:
                base = base.where(e.deleted_at.is_(None))
            page = await run_search(
                session,
                self.spec,
                base,
                request.filters,
                request.order_by,
                request.page,
                [viewer.id, request.include_deleted, request.include_shared],
            )
            return await self.to_messages(session, page.rows), page.next_token

    async def delete(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            _, row = await self.resolve_owned(work, request.id)
            await self.check_deletable(work.session, row)
            response = mark_deleted(row, f"{self.what} {row.name!r}")
            work.changed(KIND_BY_NAME[self.kind], row.id, "deleted", row.project_id, row.name)
        return response

    async def check_deletable(self, session: AsyncSession, row: Entry) -> None:
        """Subclasses refuse deletes that would break something live (a deployment, say)."""

    async def restore(self, caller: Caller, request: pb.RestoreRequest) -> Any:
        async with self.db.unit(caller) as work:
            _, row = await self.resolve_owned(work, request.id, include_deleted=True)
            mark_restored(row, f"{self.what} {row.name!r}")
            row.updated_at = utcnow()
            work.changed(KIND_BY_NAME[self.kind], row.id, "restored", row.project_id, row.name)
            [message] = await self.to_messages(work.session, [row])
        return message

    async def set_sharing(
        self, work: UnitOfWork, entity_id: str, sharing: common_pb2.Sharing
    ) -> common_pb2.Sharing:
        _, row = await self.resolve_owned(work, entity_id)
        if sharing.visibility not in VISIBILITY_NAMES:
            raise InvalidArgument("visibility is required: PRIVATE, SHARED or PUBLIC")
        names = list(dict.fromkeys(sharing.shared_with))
        if sharing.visibility == common_pb2.VISIBILITY_SHARED and not names:
            raise InvalidArgument("SHARED needs at least one project in shared_with")
        found: dict[str, str] = {}
        if names:
            rows = await work.session.execute(
                select(models.Project.name, models.Project.id).where(
                    models.Project.name.in_(names), models.Project.deleted_at.is_(None)
                )
            )
            found = dict(rows.all())
        missing = [name for name in names if name not in found]
        if missing:
            raise NotFound(f"cannot share with unknown project(s) {missing}")
        row.visibility = VISIBILITY_NAMES[sharing.visibility]
        row.updated_at = utcnow()
        await replace_shares(work.session, self.kind, row.id, found.values())
        work.changed(
            KIND_BY_NAME[self.kind], row.id, "shared", row.project_id, row.name, ("sharing",)
        )
        await work.session.flush()
        return (await load_sharing(work.session, self.kind, [row]))[row.id]

    async def common_parts(
        self, session: AsyncSession, rows: list[Entry]
    ) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, common_pb2.Sharing]]:
        project_ids = {row.project_id for row in rows}
        result = await session.execute(
            select(models.Project.id, models.Project.name).where(models.Project.id.in_(project_ids))
        )
        names = dict(result.all())
        tags = await load_tags(session, self.kind, [row.id for row in rows])
        sharing = await load_sharing(session, self.kind, rows)
        return names, tags, sharing


async def numbered_version(
    session: AsyncSession, versions: Any, parent_column: Any, parent_id: str, version: int
) -> Any:
    """Version ``version`` of a dataset or model, or its latest live one when ``version`` is 0."""
    query = select(versions).where(parent_column == parent_id)
    if version:
        query = query.where(versions.version == version)
    else:
        query = query.where(versions.deleted_at.is_(None))
        query = query.order_by(versions.version.desc()).limit(1)
    return (await session.execute(query)).scalars().first()


async def version_page(
    session: AsyncSession,
    versions: Any,
    parent_column: Any,
    parent_id: str,
    request: pb.ListVersionsRequest,
) -> tuple[list[Any], str]:
    """One page of a dataset's or model's versions, newest first, and the next page's token."""
    size = page_size(request.page.page_size)
    fingerprint = f"{parent_id}:{request.include_deleted}"
    cursor = decode_cursor(request.page.page_token, fingerprint)
    query = select(versions).where(parent_column == parent_id).order_by(versions.version.desc())
    if not request.include_deleted:
        query = query.where(versions.deleted_at.is_(None))
    if cursor is not None:
        query = query.where(versions.version < cursor.value)
    rows = list((await session.execute(query.limit(size + 1))).scalars())
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_cursor(rows[-1].version, rows[-1].id, "number", fingerprint)


MAX_CONFLICT_RETRIES = 10


async def lock_entry(session: AsyncSession, entity: Any, entry_id: str) -> Any:
    """Re-read a dataset or model under a row lock (PostgreSQL), refreshing what the session had
    loaded, so concurrent new versions count from the latest number."""
    query = select(entity).where(entity.id == entry_id).with_for_update()
    result = await session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one()


async def version_by_key(
    session: AsyncSession, versions: Any, parent_column: Any, parent_id: str, key: str
) -> Any:
    if not key:
        return None
    query = select(versions).where(parent_column == parent_id, versions.idempotency_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def create_with_retries(create: Callable[[], Awaitable[T]]) -> T:
    """Run a version-creating transaction again when a concurrent one took its number (SQLite has
    no row locks; on PostgreSQL the lock makes this rare); a repeated idempotency key finds the
    other's version on the next try."""
    for _ in range(MAX_CONFLICT_RETRIES - 1):
        try:
            return await create()
        except IntegrityError:
            continue
    return await create()
