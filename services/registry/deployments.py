"""Deployments: a model version (pinned) or alias (followed), config, revisions, rollback."""

from __future__ import annotations

import math

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.registry.v1 import registry_pb2 as pb
from services.common.db.pages import decode_cursor, encode_cursor, page_size
from services.common.db.proto_json import from_json, to_json
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.common.validation import require, validate_name, validate_text
from services.registry import convert, models
from services.registry.convert import DEPLOYMENT_STATUS_NAMES
from services.registry.core import (
    Caller,
    Database,
    UnitOfWork,
    acting_project,
    mark_deleted,
    mark_restored,
    new_id,
)
from services.registry.model_registry import ModelService
from services.registry.rollout import announce, record_revision

D = models.Deployment
DEFAULTS = {
    "max_batch_size": 64,
    "timeout_ms": 1000,
    "threads": 1,
    "max_queue_size": 1024,
    "replicas": 1,
}
LIMITS = {
    "max_batch_size": (1, 4096),
    "max_queue_delay_us": (0, 1_000_000),
    "timeout_ms": (1, 600_000),
    "threads": (1, 64),
    "canary_percent": (0, 100),
    "max_queue_size": (1, 1_000_000),
    "replicas": (1, 100),
}


def normalise_config(config: pb.ServingConfig) -> pb.ServingConfig:
    result = pb.ServingConfig()
    result.CopyFrom(config)
    for name, default in DEFAULTS.items():
        if getattr(result, name) == 0:
            setattr(result, name, default)
    for name, (low, high) in LIMITS.items():
        value = getattr(result, name)
        if not low <= value <= high:
            raise InvalidArgument(f"config.{name} is {value}; use {low}..{high}")
    if not (math.isfinite(result.sample_rate) and 0 <= result.sample_rate <= 1):
        raise InvalidArgument(f"config.sample_rate is {result.sample_rate}; use 0..1")
    if result.canary_percent and not result.canary_version:
        raise InvalidArgument("config.canary_percent needs config.canary_version")
    return result


class DeploymentService:
    def __init__(self, db: Database, model_service: ModelService) -> None:
        self.db = db
        self.models = model_service

    async def _target(
        self,
        work: UnitOfWork,
        model: models.Model,
        version: int,
        alias: str,
        config: pb.ServingConfig,
    ) -> int:
        """Checks version/alias and canary; returns the version the deployment serves."""
        if bool(version) == bool(alias):
            raise InvalidArgument("give exactly one of version (pinned) and alias (followed)")
        request = pb.GetModelVersionRequest(model=model.id, version=version, alias=alias)
        _, row = await self.models.resolve_version(work.session, work.caller, request)
        if config.canary_version:
            if config.canary_version == row.version:
                raise InvalidArgument("config.canary_version must differ from the main version")
            canary = pb.GetModelVersionRequest(model=model.id, version=config.canary_version)
            await self.models.resolve_version(work.session, work.caller, canary)
        return row.version

    async def _owned(
        self, session: AsyncSession, caller: Caller, ref: str, include_deleted: bool = False
    ) -> tuple[models.Deployment, models.Model]:
        project = await acting_project(session, caller)
        require(ref, "deployment")
        row = (
            (
                await session.execute(
                    select(D).where(D.project_id == project.id, or_(D.id == ref, D.name == ref))
                )
            )
            .scalars()
            .first()
        )
        if row is None or (row.deleted_at is not None and not include_deleted):
            raise NotFound(f"deployment {ref!r} does not exist in project {project.name!r}")
        model = await session.get(models.Model, row.model_id)
        assert model is not None
        return row, model

    async def create(self, caller: Caller, request: pb.CreateDeploymentRequest) -> pb.Deployment:
        validate_name(request.name, "deployment name")
        config = normalise_config(request.config)
        async with self.db.unit(caller) as work:
            project = await acting_project(work.session, caller)
            _, model = await self.models.resolve(
                work.session, caller, require(request.model, "model")
            )
            resolved = await self._target(work, model, request.version, request.alias, config)
            row = D(
                id=new_id(),
                project_id=project.id,
                name=request.name,
                model_id=model.id,
                version=request.version,
                alias=request.alias,
                resolved_version=resolved,
                config=to_json(config),
                status="pending",
                revision=1,
                created_by=caller.actor,
            )
            project_name = project.name  # a failed flush expires the loaded rows
            owner = await work.session.scalar(select(D.project_id).where(D.name == request.name))
            if owner is not None and owner != project.id:
                raise AlreadyExists(_taken_elsewhere(request.name))
            work.session.add(row)
            try:
                await work.session.flush()
            except IntegrityError:
                raise AlreadyExists(
                    f"deployment {request.name!r} already exists in project {project_name!r} "
                    "(possibly deleted: restore it or choose another name), or another project "
                    "took the name meanwhile"
                ) from None
            await record_revision(work, row, model.name, "created")
        return convert.deployment(row, model.name)

    async def get(self, caller: Caller, request: pb.GetDeploymentRequest) -> pb.Deployment:
        async with self.db.read() as session:
            row, model = await self._owned(
                session, caller, request.deployment, request.include_deleted
            )
        return convert.deployment(row, model.name)

    async def list(
        self, caller: Caller, request: pb.ListDeploymentsRequest
    ) -> pb.ListDeploymentsResponse:
        size = page_size(request.page.page_size)
        fingerprint = f"{caller.project}:{request.model}:{request.include_deleted}"
        cursor = decode_cursor(request.page.page_token, fingerprint)
        query = select(D, models.Model.name).join(models.Model, models.Model.id == D.model_id)
        async with self.db.read() as session:
            if caller.project:
                project = await acting_project(session, caller)
                query = query.where(D.project_id == project.id)
            if request.model:
                query = query.where(
                    or_(models.Model.name == request.model, models.Model.id == request.model)
                )
            if not request.include_deleted:
                query = query.where(D.deleted_at.is_(None))
            if cursor is not None:
                query = query.where(D.id > cursor.last_id)
            rows = (await session.execute(query.order_by(D.id).limit(size + 1))).all()
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_cursor(rows[-1][0].id, rows[-1][0].id, "text", fingerprint)
        return pb.ListDeploymentsResponse(
            deployments=[convert.deployment(row, name) for row, name in rows],
            page={"next_page_token": token},
        )

    async def update(self, caller: Caller, request: pb.UpdateDeploymentRequest) -> pb.Deployment:
        mask = set(request.update_mask)
        if not mask or mask - {"target", "config"}:
            raise InvalidArgument("update_mask must name target and/or config")
        async with self.db.unit(caller) as work:
            row, model = await self._owned(work.session, caller, request.deployment)
            config = (
                normalise_config(request.config)
                if "config" in mask
                else from_json(row.config, pb.ServingConfig)
            )
            version, alias = (
                (request.version, request.alias) if "target" in mask else (row.version, row.alias)
            )
            row.resolved_version = await self._target(work, model, version, alias, config)
            row.version, row.alias, row.config = version, alias, to_json(config)
            row.revision += 1
            row.status, row.status_message = "pending", ""
            await record_revision(work, row, model.name, "updated")
        return convert.deployment(row, model.name)

    async def rollback(
        self, caller: Caller, request: pb.RollbackDeploymentRequest
    ) -> pb.Deployment:
        async with self.db.unit(caller) as work:
            row, model = await self._owned(work.session, caller, request.deployment)
            wanted = request.to_revision or row.revision - 1
            if wanted < 1 or wanted >= row.revision:
                raise FailedPrecondition(
                    f"deployment {row.name!r} is at revision {row.revision}; roll back to one of "
                    f"1..{row.revision - 1}"
                    if row.revision > 1
                    else f"deployment {row.name!r} has no earlier revision to roll back to"
                )
            old = await work.session.get(models.DeploymentRevision, (row.id, wanted))
            assert old is not None
            config = from_json(old.config, pb.ServingConfig)
            row.resolved_version = await self._target(work, model, old.version, old.alias, config)
            row.version, row.alias, row.config = old.version, old.alias, dict(old.config)
            row.revision += 1
            row.status, row.status_message = "pending", f"rolled back to revision {wanted}"
            await record_revision(work, row, model.name, "rolled_back")
        return convert.deployment(row, model.name)

    async def revisions(
        self, caller: Caller, request: pb.ListDeploymentRevisionsRequest
    ) -> pb.ListDeploymentRevisionsResponse:
        R = models.DeploymentRevision
        async with self.db.read() as session:
            row, _ = await self._owned(session, caller, request.deployment)
            rows = (
                (
                    await session.execute(
                        select(R).where(R.deployment_id == row.id).order_by(R.revision.desc())
                    )
                )
                .scalars()
                .all()
            )
        return pb.ListDeploymentRevisionsResponse(
            revisions=[convert.deployment_revision(r) for r in rows]
        )

    async def update_status(
        self, caller: Caller, request: pb.UpdateDeploymentStatusRequest
    ) -> pb.Deployment:
        status = DEPLOYMENT_STATUS_NAMES.get(request.status)
        if status is None:
            raise InvalidArgument("status is required")
        validate_text(request.message, "message", 10_000)
        async with self.db.unit(caller) as work:
            row, model = await self._owned(work.session, caller, request.deployment)
            row.status, row.status_message = status, request.message
            announce(work, row, model.name, "status")
        return convert.deployment(row, model.name)

    async def delete(self, caller: Caller, request: pb.DeleteRequest) -> pb.DeleteResponse:
        async with self.db.unit(caller) as work:
            row, model = await self._owned(work.session, caller, request.id)
            response = mark_deleted(row, f"deployment {row.name!r}")
            row.status = "stopped"
            announce(work, row, model.name, "deleted")
        return response

    async def restore(self, caller: Caller, request: pb.RestoreRequest) -> pb.Deployment:
        async with self.db.unit(caller) as work:
            row, model = await self._owned(work.session, caller, request.id, include_deleted=True)
            mark_restored(row, f"deployment {row.name!r}")
            config = from_json(row.config, pb.ServingConfig)
            try:  # what it served may have been deleted (or its alias moved) meanwhile
                resolved = await self._target(work, model, row.version, row.alias, config)
            except NotFound as exc:
                raise FailedPrecondition(
                    f"deployment {row.name!r} cannot be restored: {exc.message}; restore that "
                    "first or create a new deployment"
                ) from None
            row.status, row.status_message = "pending", ""
            if resolved == row.resolved_version:
                announce(work, row, model.name, "restored")
            else:
                row.resolved_version, row.revision = resolved, row.revision + 1
                await record_revision(work, row, model.name, "restored")
        return convert.deployment(row, model.name)


def _taken_elsewhere(name: str) -> str:
    return (
        f"the deployment name {name!r} is taken by another project: deployment names are unique "
        "across projects because predictors serve deployments by name; choose another name"
    )
