"""Datasets and their immutable versions: schema, statistics, sources, splits and parents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.db.proto_json import to_json
from services.common.errors import InvalidArgument, NotFound
from services.common.validation import (
    MAX_DESCRIPTION,
    MAX_TAG_VALUE,
    require,
    validate_count,
    validate_key,
    validate_text,
)
from services.registry import convert, models
from services.registry.catalog import (
    Catalog,
    create_with_retries,
    lock_entry,
    numbered_version,
    version_by_key,
    version_page,
)
from services.registry.core import (
    Caller,
    Kind,
    UnitOfWork,
    mark_deleted,
    mark_restored,
    new_id,
)
from services.registry.lineage import Edge, record_edges
from services.registry.tagging import load_tags, set_tags

MAX_COLUMNS = 10_000
MAX_PARENTS = 100


class DatasetService(Catalog[models.Dataset]):
    entity = models.Dataset
    kind = "dataset"

    async def to_messages(self, session: AsyncSession, rows: list[models.Dataset]) -> list[Any]:
        names, tags, sharing = await self.common_parts(session, rows)
        return [
            convert.dataset(row, names[row.project_id], tags.get(row.id, {}), sharing[row.id])
            for row in rows
        ]

    async def create_version(
        self, caller: Caller, request: pb.CreateDatasetVersionRequest
    ) -> pb.DatasetVersion:
        _validate_version_request(request)
        return await create_with_retries(lambda: self._create_version(caller, request))

    async def _create_version(
        self, caller: Caller, request: pb.CreateDatasetVersionRequest
    ) -> pb.DatasetVersion:
        V = models.DatasetVersion
        async with self.db.unit(caller) as work:
            _, dataset = await self.resolve_owned(work, request.dataset)
            dataset = await lock_entry(work.session, models.Dataset, dataset.id)
            key = request.idempotency_key
            existing = await version_by_key(work.session, V, V.dataset_id, dataset.id, key)
            if existing is not None:
                return await self._version_message(work.session, existing, dataset.name)
            await self._check_parents(work, request.parent_version_ids)
            row = await self._insert_version(work, dataset, request)
            message = await self._version_message(work.session, row, dataset.name)
            work.emit(
                "dataset.version_created",
                dataset.project_id,
                dataset_version_created=events_pb2.DatasetVersionCreated(dataset_version=message),
            )
        return message

    async def _insert_version(
        self, work: UnitOfWork, dataset: models.Dataset, request: pb.CreateDatasetVersionRequest
    ) -> models.DatasetVersion:
        dataset.latest_version += 1
        row = models.DatasetVersion(
            id=new_id(),
            dataset_id=dataset.id,
            project_id=dataset.project_id,
            version=dataset.latest_version,
            uri=request.uri,
            content_hash=request.content_hash,
            schema=to_json(request.schema),
            row_count=request.row_count,
            size_bytes=request.size_bytes,
            statistics=[to_json(s) for s in request.statistics],
            sources=[to_json(s) for s in request.sources],
            parent_version_ids=list(request.parent_version_ids),
            split_rows=dict(request.split_rows),
            recipe_json=request.recipe_json,
            description=request.description,
            created_by=work.caller.actor,
            producer_run_id=request.producer_run_id,
            skipped_rows=request.skipped_rows,
            idempotency_key=request.idempotency_key or None,
        )
        work.session.add(row)
        await work.session.flush()
        await set_tags(work.session, "dataset_version", row.id, dict(request.tags))
        edges = [
            Edge("dataset_version", p, "dataset_version", row.id, "derived_from")
            for p in request.parent_version_ids
        ]
        edges += [
            Edge("source", s.uri, "dataset_version", row.id, "ingested_from")
            for s in request.sources
            if s.uri
        ]
        if request.producer_run_id:
            edges.append(
                Edge("run", request.producer_run_id, "dataset_version", row.id, "produced")
            )
        await record_edges(work.session, edges)
        return row

    async def _check_parents(self, work: UnitOfWork, parent_ids: Any) -> None:
        if not parent_ids:
            return
        rows = (
            (
                await work.session.execute(
                    select(models.DatasetVersion).where(
                        models.DatasetVersion.id.in_(list(parent_ids))
                    )
                )
            )
            .scalars()
            .all()
        )
        viewer_refs = {row.id: row for row in rows}
        for parent_id in parent_ids:
            parent = viewer_refs.get(parent_id)
            missing = f"parent dataset version {parent_id!r} does not exist"
            if parent is None or parent.deleted_at is not None:
                raise NotFound(missing)
            await self.resolve_parent(
                work.session, work.caller, parent.dataset_id, missing, include_deleted=False
            )

    async def _version_message(
        self, session: AsyncSession, row: models.DatasetVersion, dataset_name: str
    ) -> pb.DatasetVersion:
        tags = await load_tags(session, "dataset_version", [row.id])
        return convert.dataset_version(row, dataset_name, tags.get(row.id, {}))

    async def _resolve_version(
        self, session: AsyncSession, caller: Caller, request: pb.GetDatasetVersionRequest
    ) -> tuple[models.Dataset, models.DatasetVersion]:
        V = models.DatasetVersion
        if request.id:
            row = await session.get(V, request.id)
            missing = f"dataset version {request.id!r} does not exist"
            if row is None:
                raise NotFound(missing)
            _, dataset = await self.resolve_parent(session, caller, row.dataset_id, missing)
        else:
            _, dataset = await self.resolve(session, caller, request.dataset, True)
            row = await numbered_version(session, V, V.dataset_id, dataset.id, request.version)
            if row is None:
                wanted = f"version {request.version}" if request.version else "a live version"
                raise NotFound(f"dataset {dataset.name!r} has no {wanted}")
        if (row.deleted_at or dataset.deleted_at) and not request.include_deleted:
            raise NotFound(f"dataset version {dataset.name}@{row.version} is deleted")
        return dataset, row

    async def get_version(
        self, caller: Caller, request: pb.GetDatasetVersionRequest
    ) -> pb.DatasetVersion:
        async with self.db.read() as session:
            dataset, row = await self._resolve_version(session, caller, request)
            return await self._version_message(session, row, dataset.name)

    async def list_versions(
        self, caller: Caller, request: pb.ListVersionsRequest
    ) -> pb.ListDatasetVersionsResponse:
        V = models.DatasetVersion
        async with self.db.read() as session:
            _, dataset = await self.resolve(session, caller, request.parent)
            rows, token = await version_page(session, V, V.dataset_id, dataset.id, request)
            tags = await load_tags(session, "dataset_version", [r.id for r in rows])
        return pb.ListDatasetVersionsResponse(
            versions=[convert.dataset_version(r, dataset.name, tags.get(r.id, {})) for r in rows],
            page={"next_page_token": token},
        )

    async def delete_version(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            dataset, row = await self._owned_version(work, request.id)
            response = mark_deleted(row, f"dataset version {dataset.name}@{row.version}")
            work.changed(
                Kind.ENTITY_KIND_DATASET_VERSION,
                row.id,
                "deleted",
                row.project_id,
                f"{dataset.name}@{row.version}",
            )
        return response

    async def restore_version(
        self, caller: Caller, request: pb.RestoreRequest
    ) -> pb.DatasetVersion:
        async with self.db.unit(caller) as work:
            dataset, row = await self._owned_version(work, request.id)
            mark_restored(row, f"dataset version {dataset.name}@{row.version}")
            work.changed(
                Kind.ENTITY_KIND_DATASET_VERSION,
                row.id,
                "restored",
                row.project_id,
                f"{dataset.name}@{row.version}",
            )
            return await self._version_message(work.session, row, dataset.name)

    async def _owned_version(
        self, work: UnitOfWork, version_id: str
    ) -> tuple[models.Dataset, models.DatasetVersion]:
        row = await work.session.get(models.DatasetVersion, require(version_id, "id"))
        missing = f"dataset version {version_id!r} does not exist"
        if row is None:
            raise NotFound(missing)
        _, dataset = await self.owned_parent(work, row.dataset_id, missing)
        return dataset, row


def _validate_version_request(request: pb.CreateDatasetVersionRequest) -> None:
    require(request.dataset, "dataset")
    require(request.uri, "uri (where the version's parts are stored)")
    if request.row_count < 0 or request.size_bytes < 0 or request.skipped_rows < 0:
        raise InvalidArgument("row_count, size_bytes and skipped_rows cannot be negative")
    validate_count(request.schema.fields, "schema fields", MAX_COLUMNS)
    validate_count(request.statistics, "column statistics", MAX_COLUMNS)
    validate_count(request.parent_version_ids, "parent versions", MAX_PARENTS)
    validate_text(request.description, "description", MAX_DESCRIPTION)
    validate_text(request.recipe_json, "recipe_json", 1_000_000)
    validate_text(request.idempotency_key, "idempotency_key", 128)
    for split, rows in request.split_rows.items():
        validate_key(split, "split name")
        if rows < 0:
            raise InvalidArgument(f"split {split!r} has a negative row count")
    for key, value in request.tags.items():
        validate_key(key, "tag key")
        validate_text(value, f"tag {key!r}", MAX_TAG_VALUE)
    names = [field.name for field in request.schema.fields]
    if len(set(names)) != len(names) or any(not name for name in names):
        raise InvalidArgument("schema field names must be non-empty and unique")
