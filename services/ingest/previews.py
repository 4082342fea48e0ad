"""Dry runs: checking a recipe before a job is queued, PreviewIngest, PreviewDatasetVersion."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.db import utcnow
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.validation import require
from services.ingest import models
from services.ingest.cancel import CancelToken
from services.ingest.context import IngestContext
from services.ingest.core import Caller, new_id
from services.ingest.engine import SPLIT_COLUMN
from services.ingest.pipeline import PipelineOutput, PipelineRequest, preview_pipeline
from services.ingest.recipes import validate_recipe
from services.ingest.rows import table_rows

DEFAULT_SAMPLE_ROWS, MAX_SAMPLE_ROWS = 1_000, 10_000
DEFAULT_LIMIT, MAX_LIMIT = 50, 1_000


def _bounded(value: int, default: int, maximum: int, what: str) -> int:
    if value < 0 or value > maximum:
        raise InvalidArgument(f"{what} {value} is out of range: use 1..{maximum} (0: {default})")
    return value or default


class PreviewService:
    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx
        self._slots = asyncio.Semaphore(ctx.settings.ingest_preview_concurrency)

    async def check(self, caller: Caller, project_id: str, recipe: pb.Recipe) -> list[str]:
        """Validate a recipe for submission; dataset sources are pinned to a version id (in
        place). Returns those version ids (the new version's parents)."""
        parents = await self._accept(caller, project_id, recipe)
        if self.ctx.settings.ingest_validate_sample_rows:
            await self._dry_run(
                caller, project_id, recipe, self.ctx.settings.ingest_validate_sample_rows, 1
            )
        return parents

    async def _accept(self, caller: Caller, project_id: str, recipe: pb.Recipe) -> list[str]:
        """The recipe's structure, then its sources: saved ones and uploads of this project,
        uploads not expired, dataset sources visible and pinned (in place); returns the pins."""
        validate_recipe(recipe, self.ctx.policy)
        parents: list[str] = []
        async with self.ctx.db.read() as session:
            for source in recipe.sources:
                kind = source.WhichOneof("kind")
                if kind == "source_id":
                    await self.ctx.resolver.expand(session, project_id, source)
                elif kind == "file" and source.file.upload_id:
                    upload = await session.get(models.Upload, source.file.upload_id)
                    if upload is None or upload.project_id != project_id:
                        raise NotFound(f"upload {source.file.upload_id!r} does not exist here")
                    if upload.expires_at <= utcnow():
                        raise FailedPrecondition(f"upload {upload.id} expired; upload it again")
                elif kind == "dataset":
                    parents.append(await self._pin(caller, source.dataset))
        return parents

    async def _pin(self, caller: Caller, spec: pb.DatasetSource) -> str:
        version = await self.ctx.registry.dataset_version(
            caller, spec.dataset_version_id, spec.dataset, spec.version
        )
        spec.dataset_version_id, spec.version = version.id, version.version
        spec.dataset = spec.dataset or version.dataset
        return version.id

    async def _dry_run(
        self, caller: Caller, project_id: str, recipe: pb.Recipe, sample_rows: int, limit: int
    ) -> PipelineOutput:
        settings = self.ctx.settings
        work_dir = settings.work_dir() / "previews" / new_id()
        token = CancelToken()
        try:
            async with self._slots:
                async with self.ctx.db.read() as session:
                    resolved = await self.ctx.resolver.resolve(
                        session, caller, project_id, recipe, work_dir
                    )
                request = PipelineRequest(
                    recipe=recipe,
                    inputs=resolved.inputs,
                    work_dir=work_dir,
                    memory_limit=settings.ingest_memory_limit,
                    threads=settings.ingest_threads,
                    max_file_bytes=settings.ingest_max_file_bytes,
                    sample_rows=sample_rows,
                )
                return await asyncio.to_thread(preview_pipeline, request, limit, token)
        except asyncio.CancelledError:
            token.cancel("the caller went away")
            raise
        finally:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def preview_ingest(
        self, caller: Caller, request: pb.PreviewIngestRequest
    ) -> pb.PreviewIngestResponse:
        project = await self.ctx.registry.project(caller)
        caller = Caller(caller.actor, project.name)
        sample = _bounded(request.sample_rows, DEFAULT_SAMPLE_ROWS, MAX_SAMPLE_ROWS, "sample_rows")
        limit = _bounded(request.limit, DEFAULT_LIMIT, MAX_LIMIT, "limit")
        recipe = pb.Recipe()
        recipe.CopyFrom(request.recipe)
        await self._accept(caller, project.id, recipe)
        output = await self._dry_run(caller, project.id, recipe, sample, limit)
        assert output.preview is not None
        _strip_inline_secrets(output.preview.resolved_recipe)
        return output.preview

    async def preview_dataset_version(
        self, caller: Caller, request: pb.PreviewDatasetVersionRequest
    ) -> pb.PreviewDatasetVersionResponse:
        project = await self.ctx.registry.project(caller)
        caller = Caller(caller.actor, project.name)
        version_id = require(request.dataset_version_id, "dataset_version_id")
        limit = _bounded(request.limit, DEFAULT_LIMIT, MAX_LIMIT, "limit")
        version = await self.ctx.registry.dataset_version(caller, version_id)
        fields = _chosen_fields(version, list(request.columns))
        if request.split and request.split not in version.split_rows:
            shown = ", ".join(sorted(version.split_rows)) or "none"
            raise InvalidArgument(f"version has no split {request.split!r}; its splits: {shown}")
        prefix = self.ctx.resolver.version_prefix(version)
        keys = sorted(k for k in await self.ctx.store.list_keys(prefix) if k.endswith(".parquet"))
        names = [field.name for field in fields]
        table = await asyncio.to_thread(self._first_rows, keys, names, request.split, limit)
        schema = pb.PreviewDatasetVersionResponse().schema
        schema.fields.extend(fields)
        return pb.PreviewDatasetVersionResponse(schema=schema, rows=table_rows(table))

    def _first_rows(self, keys: list[str], names: list[str], split: str, limit: int) -> pa.Table:
        """Read part after part, batch after batch, until ``limit`` rows: bounded memory."""
        batches: list[pa.RecordBatch] = []
        found = 0
        for key in keys:
            with self.ctx.store.open_read(key) as handle:
                parquet = pq.ParquetFile(handle)
                present = set(parquet.schema_arrow.names)
                wanted = [n for n in names if n in present]
                read = wanted + ([SPLIT_COLUMN] if split and SPLIT_COLUMN not in wanted else [])
                for batch in parquet.iter_batches(batch_size=min(limit, 10_000), columns=read):
                    if split:
                        mask = pc.equal(batch.column(SPLIT_COLUMN), split)
                        batch = batch.filter(mask).select(wanted)
                    batches.append(batch.slice(0, limit - found))
                    found += min(batch.num_rows, limit - found)
                    if found >= limit:
                        return pa.Table.from_batches(batches)
        if not batches:
            return pa.table({name: pa.array([], pa.null()) for name in names})
        return pa.Table.from_batches(batches)


def _chosen_fields(version: rpb.DatasetVersion, columns: list[str]) -> list[Any]:
    by_name = {field.name: field for field in version.schema.fields}
    unknown = [c for c in columns if c not in by_name]
    if unknown:
        raise InvalidArgument(
            f"unknown column(s) {', '.join(unknown)}; the version has {', '.join(by_name)}"
        )
    return [by_name[c] for c in columns] if columns else list(version.schema.fields)


def _strip_inline_secrets(recipe: pb.Recipe) -> None:
    for source in recipe.sources:
        for credentials in (source.file.credentials, source.sql.credentials):
            if credentials.secret:
                credentials.secret = ""
                credentials.has_secret = True
