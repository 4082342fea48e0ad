"""One delivery of one ingest job: claim it, run the pipeline in a thread, publish the parts,
register the version, record the outcome. Nothing becomes visible before the registry has it.

Parts go to ``datasets/<dataset>/<job id>-<attempt>/``. The version is registered with
``idempotency_key = job id``, so a job redelivered after a crash never makes two versions: if an
earlier attempt already registered one, the registry returns it and this attempt's parts are
removed; otherwise the earlier attempts' folders are the ones removed.

The consumer allows one delivery more than AIMASS_INGEST_MAX_DELIVER attempts: that last one only
records the job FAILED when the worker of its last attempt died (nobody else would).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.bus import Delivery, Poison, Retry
from services.common.db import utcnow
from services.common.db.proto_json import from_json, to_json
from services.common.errors import DEFINITIVE_ERRORS, AimassError, FailedPrecondition
from services.ingest import models
from services.ingest.cancel import CancelToken, JobCancelled
from services.ingest.context import IngestContext
from services.ingest.convert import TERMINAL
from services.ingest.core import Caller
from services.ingest.inputs import ResolvedInputs
from services.ingest.pipeline import PipelineOutput, PipelineRequest, run_pipeline
from services.ingest.progress import ProgressReporter
from services.ingest.publish import find_registered, publish_version, result_of

logger = logging.getLogger(__name__)

RUN_STATUS = {
    "succeeded": rpb.RUN_STATUS_FINISHED,
    "failed": rpb.RUN_STATUS_FAILED,
    "cancelled": rpb.RUN_STATUS_CANCELLED,
}


@dataclass
class Claim:
    job: models.IngestJob
    caller: Caller
    attempt: int


class JobRunner:
    def __init__(self, ctx: IngestContext, worker_id: str, tokens: dict[str, CancelToken]) -> None:
        self.ctx, self.worker_id, self.tokens = ctx, worker_id, tokens

    async def handle(self, task: pb.IngestTask, delivery: Delivery) -> None:
        if not task.job_id:
            raise Poison("an IngestTask without job_id")
        claim = await self._claim(task.job_id, delivery.num_delivered)
        if claim is None:
            return
        token = CancelToken()
        self.tokens[claim.job.id] = token
        work_dir = self.ctx.settings.work_dir() / "jobs" / f"{claim.job.id}-{claim.attempt}"
        target = from_json(claim.job.target, pb.IngestTarget)
        try:
            await self._start_run(claim)
            registered = await find_registered(self.ctx, claim.caller, claim.job, target)
            if registered is not None:
                logger.info(
                    "ingest job %s: attempt %d finds its version", claim.job.id, claim.attempt
                )
                result = result_of(registered)
            else:
                result = await self._execute(claim, token, work_dir)
            await self._finish(claim, "succeeded", result=result)
        except JobCancelled:
            await self._end_without_version(claim, "cancelled", "cancelled")
        except DEFINITIVE_ERRORS as exc:
            await self._end_without_version(claim, "failed", exc.message)
        except Exception as exc:
            await self._retry_or_fail(claim, exc)
        finally:
            self.tokens.pop(claim.job.id, None)
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    @property
    def max_attempts(self) -> int:
        return self.ctx.settings.ingest_max_deliver

    async def _claim(self, job_id: str, attempt: int) -> Claim | None:
        ending: tuple[str, str] | None = None
        async with self.ctx.db.sessions() as session, session.begin():
            query = select(models.IngestJob).where(models.IngestJob.id == job_id)
            job = (await session.execute(query.with_for_update())).scalar_one_or_none()
            if job is None:
                raise Poison(f"ingest job {job_id} does not exist")
            claim = Claim(job, Caller(job.created_by, job.project), attempt)
            if job.state in TERMINAL:
                logger.info("ingest job %s already %s; dropping its task", job_id, job.state)
                return None
            if job.state == "cancelling":
                ending = ("cancelled", "cancelled")
            elif attempt > self.max_attempts:
                done = job.attempt or self.max_attempts
                ending = (
                    "failed",
                    f"gave up after {done} attempt{'s' if done != 1 else ''}: the worker running "
                    "the last one stopped (crashed or was killed)",
                )
            else:
                job.state, job.attempt, job.worker = "running", attempt, self.worker_id
                job.started_at = job.started_at or utcnow()
                job.updated_at = utcnow()
        if ending is not None:
            await self._end_without_version(claim, *ending)
            return None
        logger.info("ingest job %s: attempt %d on %s", job_id, attempt, self.worker_id)
        return claim

    async def _start_run(self, claim: Claim) -> None:
        try:
            await self.ctx.registry.update_run(
                claim.caller,
                claim.job.run_id,
                rpb.RUN_STATUS_RUNNING,
                attempt=claim.attempt,
                worker=self.worker_id,
            )
        except FailedPrecondition as exc:
            logger.warning("run %s not moved to RUNNING: %s", claim.job.run_id, exc.message)

    async def _execute(self, claim: Claim, token: CancelToken, work_dir: Any) -> pb.IngestResult:
        job, settings = claim.job, self.ctx.settings
        recipe = from_json(job.recipe, pb.Recipe)
        async with self.ctx.db.read() as session:
            inputs = await self.ctx.resolver.resolve(
                session, claim.caller, job.project_id, recipe, work_dir
            )
        request = PipelineRequest(
            recipe=recipe,
            inputs=inputs.inputs,
            work_dir=work_dir,
            memory_limit=settings.ingest_memory_limit,
            threads=settings.ingest_threads,
            max_file_bytes=settings.ingest_max_file_bytes,
            parquet_version=settings.ingest_parquet_version,
            test_delay_seconds=settings.ingest_test_job_delay_seconds,
        )
        async with ProgressReporter(self.ctx, job, token) as reporter:
            output = await _in_thread(request, reporter, token)
            token.check()
            await reporter.phase(pb.INGEST_PHASE_REGISTERING, "registering the version")
            return await self._publish(claim, output, inputs, token)

    async def _publish(
        self, claim: Claim, output: PipelineOutput, inputs: ResolvedInputs, token: CancelToken
    ) -> pb.IngestResult:
        target = from_json(claim.job.target, pb.IngestTarget)
        prefix = f"datasets/{target.dataset}/{claim.job.id}-{claim.attempt}"
        await self._record_prefix(claim, prefix)
        result = await publish_version(
            self.ctx, claim.caller, claim.job, target, prefix, output, inputs, token
        )
        unused = [p for p in claim.job.output_prefixes if p != self.ctx.store.key_for(result.uri)]
        await _delete_prefixes(self.ctx, unused)
        return result

    async def _record_prefix(self, claim: Claim, prefix: str) -> None:
        async with self.ctx.db.sessions() as session, session.begin():
            row = await session.get(models.IngestJob, claim.job.id)
            assert row is not None
            row.output_prefixes = [*row.output_prefixes, prefix]
            claim.job.output_prefixes = list(row.output_prefixes)

    async def _end_without_version(self, claim: Claim, state: str, error: str) -> None:
        """End the job ``state`` (cancelled / failed), removing every folder its attempts
        committed. If one of them registered the version after all (its worker died, or the
        registry's answer was lost), that complete version is the job's result and stays."""
        async with self.ctx.db.read() as session:
            row = await session.get(models.IngestJob, claim.job.id)
            if row is not None:  # attempts of other workers may have added theirs
                claim.job.output_prefixes = list(row.output_prefixes)
        prefixes = list(claim.job.output_prefixes)
        target = from_json(claim.job.target, pb.IngestTarget)
        try:
            registered = await find_registered(self.ctx, claim.caller, claim.job, target)
        except AimassError as exc:
            logger.warning("ingest job %s: parts kept, registry unsure: %s", claim.job.id, exc)
            await self._finish(claim, state, error)
            return
        if registered is not None:
            kept = self.ctx.store.key_for(registered.uri)
            await _delete_prefixes(self.ctx, [p for p in prefixes if p != kept])
            await self._finish(claim, "succeeded", result=result_of(registered))
            return
        await _delete_prefixes(self.ctx, prefixes)
        await self._finish(claim, state, error)

    async def _retry_or_fail(self, claim: Claim, exc: Exception) -> None:
        if isinstance(exc, AimassError):
            message = exc.message
            logger.warning("ingest job %s attempt %d: %s", claim.job.id, claim.attempt, message)
        else:
            message = "internal error"
            logger.exception("ingest job %s attempt %d failed", claim.job.id, claim.attempt)
        if claim.attempt >= self.max_attempts:
            await self._end_without_version(
                claim, "failed", f"gave up after {claim.attempt} attempts: {message}"
            )
            return
        async with self.ctx.db.sessions() as session, session.begin():
            row = await session.get(models.IngestJob, claim.job.id)
            if row is not None and row.state == "running":
                row.state, row.updated_at = "queued", utcnow()
                row.progress = {**row.progress, "message": f"retrying after: {message}"[:2000]}
        raise Retry(message)

    async def _finish(
        self, claim: Claim, state: str, error: str = "", result: pb.IngestResult | None = None
    ) -> None:
        async with self.ctx.db.read() as session:
            row = await session.get(models.IngestJob, claim.job.id)
            if row is None or row.state in TERMINAL:
                return
            if state == "cancelled":
                error = row.cancel_reason or error
        # The run first, so whoever sees the job ended sees its run ended too.
        try:
            await self.ctx.registry.update_run(
                claim.caller, claim.job.run_id, RUN_STATUS[state], error
            )
        except AimassError as exc:
            logger.warning("run %s not marked %s: %s", claim.job.run_id, state, exc.message)
        async with self.ctx.db.sessions() as session, session.begin():
            row = await session.get(models.IngestJob, claim.job.id)
            if row is None or row.state in TERMINAL:
                return
            row.state, row.error, row.finished_at = state, error[:10_000], utcnow()
            row.updated_at = row.finished_at
            if result is not None:
                row.result = to_json(result)
                row.dataset_version_id = result.dataset_version_id
        logger.info("ingest job %s %s%s", claim.job.id, state, f": {error}" if error else "")


async def _in_thread(
    request: PipelineRequest, reporter: ProgressReporter, token: CancelToken
) -> PipelineOutput:
    """Run the pipeline in a thread; if this task is cancelled (shutdown), interrupt it first."""
    future = asyncio.ensure_future(asyncio.to_thread(run_pipeline, request, reporter.sink, token))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        token.cancel("the worker is stopping")
        with contextlib.suppress(BaseException):
            await future
        raise


async def _delete_prefixes(ctx: IngestContext, prefixes: list[str]) -> None:
    for prefix in prefixes:
        try:
            await ctx.store.delete_prefix(prefix)
        except AimassError as exc:
            logger.warning("could not remove %s (GC will not either): %s", prefix, exc.message)
