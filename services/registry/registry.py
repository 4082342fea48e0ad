"""The registry's domain, assembled: one object the servicer (and tests) talk to."""

from __future__ import annotations

from aimass.common.v1 import common_pb2
from services.common.errors import InvalidArgument, NotFound
from services.common.store import ArtifactStore
from services.registry import models
from services.registry.core import KIND_NAMES, Caller, Database, UnitOfWork, acting_project
from services.registry.datasets import DatasetService
from services.registry.deployments import DeploymentService
from services.registry.gc import GarbageCollector
from services.registry.lineage import LineageService
from services.registry.model_registry import ModelService
from services.registry.projects import ProjectService
from services.registry.runs import RunService
from services.registry.tagging import delete_tags, load_tags, set_tags

TAGGABLE = ("dataset", "dataset_version", "run", "model", "model_version")


class Registry:
    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db = db
        self.projects = ProjectService(db)
        self.datasets = DatasetService(db)
        self.runs = RunService(db)
        self.models = ModelService(db)
        self.deployments = DeploymentService(db, self.models)
        self.lineage = LineageService(db)
        self.gc = GarbageCollector(db, store)

    async def set_sharing(
        self, caller: Caller, entity: common_pb2.EntityRef, sharing: common_pb2.Sharing
    ) -> common_pb2.Sharing:
        catalogs: dict[int, DatasetService | ModelService] = {
            common_pb2.ENTITY_KIND_DATASET: self.datasets,
            common_pb2.ENTITY_KIND_MODEL: self.models,
        }
        if entity.kind not in catalogs:
            raise InvalidArgument("only datasets and models can be shared")
        catalog = catalogs[entity.kind]
        async with self.db.unit(caller) as work:
            return await catalog.set_sharing(work, entity.id, sharing)

    async def set_tags(
        self,
        caller: Caller,
        entity: common_pb2.EntityRef,
        tags: dict[str, str],
        removed: list[str],
    ) -> dict[str, str]:
        kind = KIND_NAMES.get(entity.kind, "")
        if kind not in TAGGABLE:
            raise InvalidArgument(
                "tags apply to datasets, dataset versions, runs, models and model versions"
            )
        async with self.db.unit(caller) as work:
            project = await acting_project(work.session, caller)
            await self._check_owned(work, kind, entity.id)
            await set_tags(work.session, kind, entity.id, tags)
            await delete_tags(work.session, kind, entity.id, removed)
            work.changed(
                entity.kind,
                entity.id,
                "tagged",
                project.id,
                fields=tuple(sorted([*tags, *removed])),
            )
            await work.session.flush()
            return (await load_tags(work.session, kind, [entity.id])).get(entity.id, {})

    async def _check_owned(self, work: UnitOfWork, kind: str, entity_id: str) -> None:
        if kind == "dataset":
            await self.datasets.resolve_owned(work, entity_id)
        elif kind == "model":
            await self.models.resolve_owned(work, entity_id)
        elif kind == "dataset_version":
            row = await work.session.get(models.DatasetVersion, entity_id)
            if row is None:
                raise NotFound(f"dataset version {entity_id!r} does not exist")
            await self.datasets.resolve_owned(work, row.dataset_id)
        elif kind == "model_version":
            mv = await work.session.get(models.ModelVersion, entity_id)
            if mv is None:
                raise NotFound(f"model version {entity_id!r} does not exist")
            await self.models.resolve_owned(work, mv.model_id)
        else:
            await self.runs.owned(work.session, work.caller, entity_id)
