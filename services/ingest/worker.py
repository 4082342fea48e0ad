"""The ingest worker: a durable pull consumer on aimass.jobs.ingest (any number of replicas share
it), cancel messages on core NATS, and periodic clean-up of expired uploads and abandoned stages."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from types import TracebackType

from sqlalchemy import select

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.bus import JOBS, Consumer
from services.common.db import utcnow
from services.common.errors import AimassError
from services.common.lifecycle import BackgroundTask, default_worker_id
from services.ingest import models
from services.ingest.cancel import CancelToken
from services.ingest.context import IngestContext
from services.ingest.convert import TERMINAL
from services.ingest.events import CANCEL_SUBJECTS, JOBS_DURABLE, JOBS_SUBJECT, job_id_of_cancel
from services.ingest.runner import JobRunner

logger = logging.getLogger(__name__)


class IngestWorker:
    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx
        self.worker_id = ctx.settings.ingest_worker_id or default_worker_id()
        self.tokens: dict[str, CancelToken] = {}
        self.runner = JobRunner(ctx, self.worker_id, self.tokens)
        self.consumer: Consumer[pb.IngestTask] | None = None

    async def __aenter__(self) -> IngestWorker:
        settings = self.ctx.settings
        await self.ctx.bus.subscribe_control(
            CANCEL_SUBJECTS, pb.CancelIngestJobRequest, self._on_cancel
        )
        self.consumer = await self.ctx.bus.consume(
            stream=JOBS,
            durable=JOBS_DURABLE,
            filter_subject=JOBS_SUBJECT,
            message_type=pb.IngestTask,
            handler=self.runner.handle,
            ack_wait=settings.ingest_ack_wait_seconds,
            # one more than the attempts: the last delivery only records a job whose last
            # attempt's worker died as FAILED (runner.py)
            max_deliver=settings.ingest_max_deliver + 1,
            batch=settings.ingest_worker_concurrency,
            concurrency=settings.ingest_worker_concurrency,
            heartbeat=True,
        )
        logger.info("ingest worker %s consuming %s", self.worker_id, JOBS_SUBJECT)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.consumer is not None:
            await self.consumer.stop(self.ctx.settings.shutdown_grace_seconds)

    async def _on_cancel(self, request: pb.CancelIngestJobRequest, subject: str) -> None:
        job_id = request.job_id or job_id_of_cancel(subject)
        token = self.tokens.get(job_id)
        if token is not None:
            logger.info("cancelling ingest job %s: %s", job_id, request.reason)
            token.cancel(request.reason or "cancelled")


class Janitor(BackgroundTask):
    """Removes expired uploads no live job needs, and stages abandoned by crashed writers."""

    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx

    task_name = "ingest-janitor"

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.ingest_gc_interval_seconds)
            try:
                await self.collect()
            except (AimassError, OSError) as exc:
                logger.warning("ingest clean-up failed: %s", exc)

    async def collect(self) -> int:
        """One pass; returns the number of uploads removed."""
        age = timedelta(seconds=self.ctx.settings.ingest_staging_max_age_seconds)
        await self.ctx.store.cleanup_staging(age)
        async with self.ctx.db.read() as session:
            expired = list(
                (
                    await session.execute(
                        select(models.Upload).where(models.Upload.expires_at <= utcnow())
                    )
                ).scalars()
            )
            live = await session.execute(
                select(models.IngestJob.upload_ids).where(models.IngestJob.state.not_in(TERMINAL))
            )
            needed = {upload for ids in live.scalars() for upload in ids}
        removed = 0
        for upload in expired:
            if upload.id in needed:
                continue
            await self.ctx.store.delete_prefix(upload.store_key.rsplit("/", 1)[0])
            async with self.ctx.db.sessions() as session, session.begin():
                row = await session.get(models.Upload, upload.id)
                if row is not None:
                    await session.delete(row)
            removed += 1
        return removed
