"""The last step of a job: parts into the store (staged, then committed all at once), then the
version into the registry. Until the registry answers, nothing is visible."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import json_format

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import FailedPrecondition, NotFound
from services.common.store import TreeResult
from services.ingest import models
from services.ingest.cancel import CancelToken
from services.ingest.context import IngestContext
from services.ingest.core import Caller
from services.ingest.inputs import ResolvedInputs
from services.ingest.pipeline import PipelineOutput


async def commit_parts(ctx: IngestContext, prefix: str, parts: list[Path]) -> TreeResult:
    async with ctx.store.staged(prefix) as stage:
        for path in sorted(parts):
            await stage.put_file(path.name, path)
        return await stage.commit()


async def _dataset(ctx: IngestContext, caller: Caller, target: pb.IngestTarget) -> None:
    if target.create_dataset:
        sharing = target.sharing if target.HasField("sharing") else None
        await ctx.registry.ensure_dataset(caller, target.dataset, target.description, sharing)
    elif await ctx.registry.dataset(caller, target.dataset) is None:
        raise FailedPrecondition(
            f"dataset {target.dataset!r} no longer exists; create it or set target.create_dataset"
        )


def version_request(
    caller: Caller,
    job: models.IngestJob,
    target: pb.IngestTarget,
    tree: TreeResult,
    result: pb.IngestResult,
    inputs: ResolvedInputs,
) -> rpb.CreateDatasetVersionRequest:
    return rpb.CreateDatasetVersionRequest(
        project=caller.project,
        dataset=target.dataset,
        uri=tree.uri,
        content_hash=tree.digest,
        schema=result.schema,
        row_count=result.row_count,
        size_bytes=tree.size,
        statistics=result.statistics,
        sources=inputs.descriptions,
        parent_version_ids=inputs.parent_version_ids,
        split_rows=result.split_rows,
        recipe_json=json_format.MessageToJson(result.resolved_recipe, indent=None),
        description=target.description,
        tags=target.tags,
        producer_run_id=job.run_id,
        skipped_rows=result.skipped_rows,
        idempotency_key=job.id,
    )


async def find_registered(
    ctx: IngestContext, caller: Caller, job: models.IngestJob, target: pb.IngestTarget
) -> rpb.DatasetVersion | None:
    """The version an earlier attempt of ``job`` registered (then crashed before recording it)."""
    if not job.output_prefixes:
        return None
    try:
        versions = await ctx.registry.versions(caller, target.dataset)
    except NotFound:
        return None
    return next((v for v in versions if v.producer_run_id == job.run_id), None)


def result_of(version: rpb.DatasetVersion) -> pb.IngestResult:
    result = pb.IngestResult(
        dataset_version_id=version.id,
        version=version.version,
        uri=version.uri,
        content_hash=version.content_hash,
        row_count=version.row_count,
        size_bytes=version.size_bytes,
        schema=version.schema,
        statistics=version.statistics,
        split_rows=version.split_rows,
        skipped_rows=version.skipped_rows,
    )
    if version.recipe_json:
        json_format.Parse(version.recipe_json, result.resolved_recipe, ignore_unknown_fields=True)
    return result


async def publish_version(
    ctx: IngestContext,
    caller: Caller,
    job: models.IngestJob,
    target: pb.IngestTarget,
    prefix: str,
    output: PipelineOutput,
    inputs: ResolvedInputs,
    token: CancelToken,
) -> pb.IngestResult:
    """Commit the parts under ``prefix`` and register them; returns the job's result. If an
    earlier attempt registered the version already, that version is the result."""
    tree = await commit_parts(ctx, prefix, output.parts)
    token.check()
    await _dataset(ctx, caller, target)
    token.check()
    request = version_request(caller, job, target, tree, output.result, inputs)
    version = await ctx.registry.create_dataset_version(caller, request)
    result = pb.IngestResult()
    result.CopyFrom(output.result)
    result.dataset_version_id, result.version, result.uri = version.id, version.version, version.uri
    result.content_hash, result.row_count = version.content_hash, version.row_count
    result.size_bytes = version.size_bytes
    if version.uri != tree.uri:
        # an earlier attempt registered its own parts: those are the version
        result.schema.CopyFrom(version.schema)
        del result.statistics[:]
        result.statistics.extend(version.statistics)
        result.split_rows.clear()
        result.split_rows.update(version.split_rows)
    return result
