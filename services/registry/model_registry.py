"""Models, their versions and aliases (with the history of every move)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as pb
from services.common.db.pages import decode_cursor, encode_cursor, page_size
from services.common.db.proto_json import to_json
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.validation import (
    MAX_DESCRIPTION,
    require,
    validate_count,
    validate_key,
    validate_name,
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
from services.registry.core import Caller, Kind, UnitOfWork, mark_deleted, mark_restored, new_id
from services.registry.lineage import Edge, record_edges
from services.registry.rollout import follow_alias
from services.registry.tagging import load_tags, set_tags

V = models.ModelVersion
MAX_SIGNATURE_FIELDS = 10_000


class ModelService(Catalog[models.Model]):
    entity = models.Model
    kind = "model"

    async def aliases(
        self, session: AsyncSession, model_ids: list[str]
    ) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = defaultdict(dict)
        if model_ids:
            rows = await session.execute(
                select(models.ModelAlias).where(models.ModelAlias.model_id.in_(model_ids))
            )
            for alias in rows.scalars():
                found[alias.model_id][alias.alias] = alias.version
        return found

    async def to_messages(self, session: AsyncSession, rows: list[models.Model]) -> list[Any]:
        names, tags, sharing = await self.common_parts(session, rows)
        aliases = await self.aliases(session, [row.id for row in rows])
        return [
            convert.model(
                row, names[row.project_id], tags.get(row.id, {}), sharing[row.id], aliases[row.id]
            )
            for row in rows
        ]

    async def version_messages(
        self, session: AsyncSession, model: models.Model, rows: list[models.ModelVersion]
    ) -> list[pb.ModelVersion]:
        tags = await load_tags(session, "model_version", [row.id for row in rows])
        by_version: dict[int, list[str]] = defaultdict(list)
        for alias, version in (await self.aliases(session, [model.id]))[model.id].items():
            by_version[version].append(alias)
        return [
            convert.model_version(row, model.name, tags.get(row.id, {}), by_version[row.version])
            for row in rows
        ]

    async def check_deletable(self, session: AsyncSession, row: models.Model) -> None:
        D = models.Deployment
        live = select(exists().where(D.model_id == row.id, D.deleted_at.is_(None)))
        if (await session.execute(live)).scalar():
            raise FailedPrecondition(
                f"model {row.name!r} is deployed; delete its deployments first"
            )

    async def create_version(
        self, caller: Caller, request: pb.CreateModelVersionRequest
    ) -> pb.ModelVersion:
        _validate_version_request(request)
        return await create_with_retries(lambda: self._create_version(caller, request))

    async def _create_version(
        self, caller: Caller, request: pb.CreateModelVersionRequest
    ) -> pb.ModelVersion:
        async with self.db.unit(caller) as work:
            model = await self._model_for_new_version(work, request)
            model = await lock_entry(work.session, models.Model, model.id)
            key = request.idempotency_key
            existing = await version_by_key(work.session, V, V.model_id, model.id, key)
            if existing is not None:
                return (await self.version_messages(work.session, model, [existing]))[0]
            if request.source_run_id:
                run = await work.session.get(models.Run, request.source_run_id)
                if run is None or run.project_id != model.project_id or run.deleted_at:
                    raise NotFound(f"source run {request.source_run_id!r} does not exist")
            model.latest_version += 1
            row = V(
                id=new_id(),
                model_id=model.id,
                project_id=model.project_id,
                version=model.latest_version,
                framework=request.framework,
                artifact_format=request.artifact_format,
                artifact_uri=request.artifact_uri,
                content_hash=request.content_hash,
                signature=to_json(request.signature),
                metrics=dict(request.metrics),
                source_run_id=request.source_run_id or None,
                description=request.description,
                task=request.task,
                created_by=caller.actor,
                idempotency_key=request.idempotency_key or None,
            )
            work.session.add(row)
            await work.session.flush()
            await set_tags(work.session, "model_version", row.id, dict(request.tags))
            if request.source_run_id:
                await record_edges(
                    work.session,
                    [Edge("run", request.source_run_id, "model_version", row.id, "produced")],
                )
            [message] = await self.version_messages(work.session, model, [row])
            work.emit(
                "model.version_created",
                model.project_id,
                model_version_created=events_pb2.ModelVersionCreated(model_version=message),
            )
        return message

    async def _model_for_new_version(
        self, work: UnitOfWork, request: pb.CreateModelVersionRequest
    ) -> models.Model:
        try:
            return (await self.resolve_owned(work, request.model))[1]
        except NotFound:
            if not request.create_model:
                raise
        return await self.create_row(work, validate_name(request.model, "model name"), "", "", {})

    async def resolve_version(
        self, session: AsyncSession, caller: Caller, request: pb.GetModelVersionRequest
    ) -> tuple[models.Model, models.ModelVersion]:
        if request.id:
            row = await session.get(V, request.id)
            missing = f"model version {request.id!r} does not exist"
            if row is None:
                raise NotFound(missing)
            _, model = await self.resolve_parent(session, caller, row.model_id, missing)
        else:
            _, model = await self.resolve(session, caller, request.model, True)
            version = request.version
            if request.alias:
                aliases = (await self.aliases(session, [model.id]))[model.id]
                if request.alias not in aliases:
                    raise NotFound(f"model {model.name!r} has no alias {request.alias!r}")
                version = aliases[request.alias]
            row = await numbered_version(session, V, V.model_id, model.id, version)
            if row is None:
                raise NotFound(f"model {model.name!r} has no version {version or '(none live)'}")
        if (row.deleted_at or model.deleted_at) and not request.include_deleted:
            raise NotFound(f"model version {model.name}@{row.version} is deleted")
        return model, row

    async def get_version(
        self, caller: Caller, request: pb.GetModelVersionRequest
    ) -> pb.ModelVersion:
        async with self.db.read() as session:
            model, row = await self.resolve_version(session, caller, request)
            return (await self.version_messages(session, model, [row]))[0]

    async def list_versions(
        self, caller: Caller, request: pb.ListVersionsRequest
    ) -> pb.ListModelVersionsResponse:
        async with self.db.read() as session:
            _, model = await self.resolve(session, caller, request.parent)
            rows, token = await version_page(session, V, V.model_id, model.id, request)
            versions = await self.version_messages(session, model, rows)
        return pb.ListModelVersionsResponse(versions=versions, page={"next_page_token": token})

    async def _owned_version(
        self, work: UnitOfWork, version_id: str
    ) -> tuple[models.Model, models.ModelVersion]:
        row = await work.session.get(V, require(version_id, "id"))
        missing = f"model version {version_id!r} does not exist"
        if row is None:
            raise NotFound(missing)
        _, model = await self.owned_parent(work, row.model_id, missing)
        return model, row

    async def delete_version(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            model, row = await self._owned_version(work, request.id)
            label = f"{model.name}@{row.version}"
            aliases = [
                a
                for a, v in (await self.aliases(work.session, [model.id]))[model.id].items()
                if v == row.version
            ]
            if aliases:
                raise FailedPrecondition(f"{label} carries alias(es) {aliases}; move them first")
            serving = await self._deployments_serving(work.session, model.id, row.version)
            if serving:
                raise FailedPrecondition(
                    f"{label} is deployed (as main or canary version) by {serving}; change the "
                    "deployment first"
                )
            response = mark_deleted(row, f"model version {label}")
            work.changed(Kind.ENTITY_KIND_MODEL_VERSION, row.id, "deleted", row.project_id, label)
        return response

    async def _deployments_serving(
        self, session: AsyncSession, model_id: str, version: int
    ) -> list[str]:
        """Names of live deployments serving ``version``, as main or canary version."""
        D = models.Deployment
        live = (
            (
                await session.execute(
                    select(D).where(D.model_id == model_id, D.deleted_at.is_(None)).order_by(D.name)
                )
            )
            .scalars()
            .all()
        )
        return [
            d.name
            for d in live
            if version in (d.resolved_version, int(d.config.get("canary_version") or 0))
        ]

    async def restore_version(self, caller: Caller, request: pb.RestoreRequest) -> pb.ModelVersion:
        async with self.db.unit(caller) as work:
            model, row = await self._owned_version(work, request.id)
            mark_restored(row, f"model version {model.name}@{row.version}")
            work.changed(
                Kind.ENTITY_KIND_MODEL_VERSION,
                row.id,
                "restored",
                row.project_id,
                f"{model.name}@{row.version}",
            )
            return (await self.version_messages(work.session, model, [row]))[0]

    async def set_alias(self, caller: Caller, request: pb.SetModelAliasRequest) -> pb.Model:
        alias = validate_name(request.alias, "alias")
        if alias.isdigit() or alias == "latest":
            raise InvalidArgument(f"alias {alias!r} would be confused with a version; pick a word")
        async with self.db.unit(caller) as work:
            _, model = await self.resolve_owned(work, request.model)
            target = (
                await work.session.execute(
                    select(V).where(
                        V.model_id == model.id, V.version == request.version, V.deleted_at.is_(None)
                    )
                )
            ).scalar_one_or_none()
            if target is None:
                raise NotFound(f"model {model.name!r} has no live version {request.version}")
            current = await work.session.get(models.ModelAlias, (model.id, alias))
            previous = current.version if current else 0
            if current is None:
                work.session.add(
                    models.ModelAlias(model_id=model.id, alias=alias, version=request.version)
                )
            else:
                current.version = request.version
            await self._moved(work, model, alias, previous, request.version)
            return (await self.to_messages(work.session, [model]))[0]

    async def delete_alias(self, caller: Caller, request: pb.DeleteModelAliasRequest) -> pb.Model:
        async with self.db.unit(caller) as work:
            _, model = await self.resolve_owned(work, request.model)
            current = await work.session.get(models.ModelAlias, (model.id, request.alias))
            if current is None:
                raise NotFound(f"model {model.name!r} has no alias {request.alias!r}")
            await work.session.delete(current)
            await self._moved(work, model, request.alias, current.version, 0)
            return (await self.to_messages(work.session, [model]))[0]

    async def _moved(
        self, work: UnitOfWork, model: models.Model, alias: str, previous: int, version: int
    ) -> None:
        move = models.AliasMove(
            model_id=model.id,
            alias=alias,
            from_version=previous,
            to_version=version,
            actor=work.caller.actor,
        )
        work.session.add(move)
        await work.session.flush()
        work.emit(
            "model.alias_moved",
            model.project_id,
            alias_moved=events_pb2.AliasMoved(
                model_id=model.id, model=model.name, move=convert.alias_move(move)
            ),
        )
        await follow_alias(work, model, alias, version)

    async def alias_history(
        self, caller: Caller, request: pb.ListAliasHistoryRequest
    ) -> pb.ListAliasHistoryResponse:
        size = page_size(request.page.page_size)
        A = models.AliasMove
        async with self.db.read() as session:
            _, model = await self.resolve(session, caller, request.model)
            fingerprint = f"{model.id}:{request.alias}"
            cursor = decode_cursor(request.page.page_token, fingerprint)
            query = select(A).where(A.model_id == model.id).order_by(A.id.desc())
            if request.alias:
                query = query.where(A.alias == request.alias)
            if cursor is not None:
                query = query.where(A.id < cursor.value)
            rows = list((await session.execute(query.limit(size + 1))).scalars())
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_cursor(rows[-1].id, str(rows[-1].id), "number", fingerprint)
        return pb.ListAliasHistoryResponse(
            moves=[convert.alias_move(r) for r in rows], page={"next_page_token": token}
        )


def _validate_version_request(request: pb.CreateModelVersionRequest) -> None:
    require(request.model, "model")
    require(request.framework, "framework")
    require(request.artifact_uri, "artifact_uri")
    validate_key(request.framework, "framework")
    if request.artifact_format:
        validate_key(request.artifact_format, "artifact_format")
    if request.task:
        validate_key(request.task, "task")
    validate_text(request.description, "description", MAX_DESCRIPTION)
    validate_count(request.signature.inputs.fields, "signature inputs", MAX_SIGNATURE_FIELDS)
    validate_count(request.signature.outputs.fields, "signature outputs", MAX_SIGNATURE_FIELDS)
    validate_count(request.metrics, "metrics", 1000)
    for key, value in request.metrics.items():
        validate_key(key, "metric key")
        if not math.isfinite(value):
            raise InvalidArgument(
                f"metric {key!r} is {value}; model version metrics must be finite"
            )
