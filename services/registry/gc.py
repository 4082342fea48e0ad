"""Garbage collection: purge entities deleted long enough ago, and their artifacts.

Artifacts go first, rows second: if the row purge fails, the next run finds the same entities and
finishes. An artifact location a live entity still uses (the same URI, one inside it or one around
it) is kept; URIs outside the store are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimass.registry.v1 import registry_pb2 as pb
from services.common.db import utcnow
from services.common.errors import InvalidArgument
from services.common.store import ArtifactStore
from services.registry import models
from services.registry.core import KIND_BY_NAME, Caller, Database

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    entities: dict[str, list[str]] = field(default_factory=dict)
    uris: set[str] = field(default_factory=set)
    # URIs of purged entities that a live entity still uses (the same location, one inside it or
    # one around it): never deleted.
    kept: set[str] = field(default_factory=set)

    def add(self, kind: str, ids: list[str]) -> None:
        self.entities.setdefault(kind, []).extend(ids)


async def _ids(session: AsyncSession, query: object) -> list[str]:
    return list((await session.execute(query)).scalars())  # type: ignore[call-overload]


class GarbageCollector:
    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db = db
        self.store = store

    async def plan(self, session: AsyncSession, older_than: timedelta) -> Plan:
        cutoff = utcnow() - older_than
        plan = Plan()
        DS, DV = models.Dataset, models.DatasetVersion
        MO, MV = models.Model, models.ModelVersion
        gone_datasets = await _ids(session, select(DS.id).where(DS.deleted_at <= cutoff))
        plan.add(
            "dataset_version",
            await _ids(
                session,
                select(DV.id).where(or_(DV.deleted_at <= cutoff, DV.dataset_id.in_(gone_datasets))),
            ),
        )
        plan.add("dataset", gone_datasets)
        plan.add(
            "deployment",
            await _ids(
                session, select(models.Deployment.id).where(models.Deployment.deleted_at <= cutoff)
            ),
        )
        live_deployed = select(models.Deployment.model_id).where(
            models.Deployment.id.not_in(plan.entities["deployment"])
        )
        gone_models = await _ids(
            session, select(MO.id).where(MO.deleted_at <= cutoff, MO.id.not_in(live_deployed))
        )
        plan.add(
            "model_version",
            await _ids(
                session,
                select(MV.id).where(or_(MV.deleted_at <= cutoff, MV.model_id.in_(gone_models))),
            ),
        )
        plan.add("model", gone_models)
        kept_by_versions = select(MV.source_run_id).where(
            MV.source_run_id.is_not(None), MV.id.not_in(plan.entities["model_version"])
        )
        kept_by_children = select(models.Run.parent_run_id).where(
            models.Run.parent_run_id.is_not(None),
            or_(models.Run.deleted_at.is_(None), models.Run.deleted_at > cutoff),
        )
        plan.add(
            "run",
            await _ids(
                session,
                select(models.Run.id).where(
                    models.Run.deleted_at <= cutoff,
                    models.Run.id.not_in(kept_by_versions),
                    models.Run.id.not_in(kept_by_children),
                ),
            ),
        )
        await self._purged_uris(session, plan)
        return plan

    def store_key(self, uri: str) -> str | None:
        """The store key of a URI (a trailing '/' ignored); None for a URI outside the store."""
        try:
            return self.store.key_for(uri.rstrip("/"))
        except InvalidArgument:
            return None

    async def _purged_uris(self, session: AsyncSession, plan: Plan) -> None:
        DV, MV, RA = models.DatasetVersion, models.ModelVersion, models.RunArtifact
        sources = (
            (DV.uri, DV.id, plan.entities["dataset_version"]),
            (MV.artifact_uri, MV.id, plan.entities["model_version"]),
            (RA.uri, RA.run_id, plan.entities["run"]),
        )
        purged: set[str] = set()
        live: set[str] = set()
        for column, owner, ids in sources:
            doomed = set(ids)
            for uri, owner_id in await session.execute(select(column, owner)):
                if uri:
                    (purged if owner_id in doomed else live).add(uri)
        live_keys = {key for key in map(self.store_key, live) if key}
        for uri in purged:
            key = self.store_key(uri)
            shared = uri in live or (
                key is not None
                and any(
                    key == other or other.startswith(f"{key}/") or key.startswith(f"{other}/")
                    for other in live_keys
                )
            )
            (plan.kept if shared else plan.uris).add(uri)

    async def collect(
        self, caller: Caller, request: pb.CollectGarbageRequest
    ) -> pb.CollectGarbageResponse:
        if request.older_than_seconds < 0:
            raise InvalidArgument("older_than_seconds cannot be negative")
        older_than = timedelta(seconds=request.older_than_seconds)
        async with self.db.read() as session:
            plan = await self.plan(session, older_than)
        response = pb.CollectGarbageResponse()
        for kind, ids in plan.entities.items():
            for entity_id in ids:
                response.purged.add(kind=KIND_BY_NAME[kind], id=entity_id)
        doomed: list[str] = []
        for uri in sorted(plan.uris):
            key = self.store_key(uri)
            if key is None:  # outside the store: not ours to delete
                response.kept_uris.append(uri)
            else:
                response.deleted_uris.append(uri)
                doomed.append(key)
        response.kept_uris.extend(sorted(plan.kept))
        if request.dry_run:
            return response
        for key in doomed:
            if not await self.store.delete_prefix(key):
                await self.store.delete(key)
        async with self.db.unit(caller) as work:
            await _purge_rows(work.session, plan)
            for ref in response.purged:
                work.changed(ref.kind, ref.id, "purged", "")
        logger.info(
            "garbage collection purged %d entities and %d artifact locations",
            len(response.purged),
            len(response.deleted_uris),
        )
        return response


async def _purge_rows(session: AsyncSession, plan: Plan) -> None:
    ids = plan.entities
    for kind in ("dataset_version", "dataset", "model_version", "model", "run", "deployment"):
        if ids[kind]:
            await session.execute(
                delete(models.Tag).where(
                    models.Tag.entity_kind == kind, models.Tag.entity_id.in_(ids[kind])
                )
            )
    for kind in ("dataset", "model"):
        if ids[kind]:
            await session.execute(
                delete(models.Share).where(
                    models.Share.entity_kind == kind, models.Share.entity_id.in_(ids[kind])
                )
            )
    deployments, runs, model_ids = ids["deployment"], ids["run"], ids["model"]
    await session.execute(
        delete(models.DeploymentRevision).where(
            models.DeploymentRevision.deployment_id.in_(deployments)
        )
    )
    await session.execute(delete(models.Deployment).where(models.Deployment.id.in_(deployments)))
    await session.execute(
        delete(models.DatasetVersion).where(models.DatasetVersion.id.in_(ids["dataset_version"]))
    )
    await session.execute(delete(models.Dataset).where(models.Dataset.id.in_(ids["dataset"])))
    await session.execute(
        delete(models.ModelVersion).where(models.ModelVersion.id.in_(ids["model_version"]))
    )
    for by_model in (models.ModelAlias, models.AliasMove):
        await session.execute(delete(by_model).where(by_model.model_id.in_(model_ids)))
    await session.execute(delete(models.Model).where(models.Model.id.in_(model_ids)))
    for by_run in (models.RunParam, models.LatestMetric, models.RunArtifact, models.RunAttempt):
        await session.execute(delete(by_run).where(by_run.run_id.in_(runs)))
    await session.execute(delete(models.MetricPoint).where(models.MetricPoint.run_id.in_(runs)))
    await session.execute(delete(models.Run).where(models.Run.id.in_(runs)))
