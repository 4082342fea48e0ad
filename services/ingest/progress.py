"""Progress of a running job: the pipeline thread reports, an asyncio task stores the latest
snapshot and publishes aimass.ingest.job.progressed at most once per interval. The same task
notices a cancel recorded in the database (a missed control message) and interrupts the job."""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy import select

from aimass.events.v1 import events_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.db import utcnow
from services.common.db.proto_json import to_json
from services.common.errors import AimassError
from services.common.lifecycle import BackgroundTask
from services.common.logs import request_id_var
from services.ingest import models
from services.ingest.cancel import CancelToken
from services.ingest.context import IngestContext
from services.ingest.core import new_id
from services.ingest.events import PROGRESS_SUBJECT

logger = logging.getLogger(__name__)


def phase_name(phase: int) -> str:
    return pb.IngestPhase.Name(phase).removeprefix("INGEST_PHASE_").lower()


class ProgressReporter(BackgroundTask):
    def __init__(self, ctx: IngestContext, job: models.IngestJob, token: CancelToken) -> None:
        self.ctx, self.job_id, self.project_id = ctx, job.id, job.project_id
        self.actor = job.created_by
        self.token = token
        self.interval = ctx.settings.ingest_progress_interval_seconds
        self._lock = threading.Lock()
        self._latest: pb.IngestProgress | None = None
        self._sent: pb.IngestProgress | None = None
        self.task_name = f"ingest-progress-{job.id}"

    def sink(self, progress: pb.IngestProgress) -> None:
        """Called from the pipeline thread."""
        with self._lock:
            self._latest = progress

    async def phase(self, phase: pb.IngestPhase, message: str) -> None:
        with self._lock:
            latest = pb.IngestProgress()
            if self._latest is not None:
                latest.CopyFrom(self._latest)
            latest.phase, latest.message = phase, message
            latest.updated_at.GetCurrentTime()
            self._latest = latest
        await self.flush()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                logger.warning("progress of job %s not recorded", self.job_id, exc_info=True)

    def _snapshot(self) -> pb.IngestProgress | None:
        with self._lock:
            if self._latest is None:
                return None
            latest = pb.IngestProgress()
            latest.CopyFrom(self._latest)
        percent = self.token.query_progress()
        if percent > 0 and latest.bytes_total:
            latest.bytes_read = max(latest.bytes_read, int(latest.bytes_total * percent / 100))
        return latest

    async def flush(self) -> None:
        latest = self._snapshot()
        state = await self._store(latest if latest != self._sent else None)
        if state == "cancelling" and not self.token.cancelled:
            self.token.cancel("cancel requested")
        if latest is None or latest == self._sent:
            return
        self._sent = latest
        await self._publish(latest)

    async def _store(self, progress: pb.IngestProgress | None) -> str:
        """Record ``progress`` (if any); returns the job's state."""
        async with self.ctx.db.sessions() as session, session.begin():
            if progress is None:
                query = select(models.IngestJob.state).where(models.IngestJob.id == self.job_id)
                return str((await session.execute(query)).scalar_one())
            row = await session.get(models.IngestJob, self.job_id)
            assert row is not None
            if row.state in ("running", "cancelling"):
                row.progress, row.updated_at = to_json(progress), utcnow()
            return row.state

    async def _publish(self, progress: pb.IngestProgress) -> None:
        event = events_pb2.Event(
            event_id=new_id(),
            producer="ingest",
            subject=PROGRESS_SUBJECT,
            project_id=self.project_id,
            actor=self.actor,
            request_id=request_id_var.get(),
            ingest_progressed=events_pb2.IngestProgressed(
                job_id=self.job_id,
                phase=phase_name(progress.phase),
                rows=progress.rows_written or progress.rows_read,
                bytes=progress.bytes_read,
                total_bytes=progress.bytes_total,
                message=progress.message,
            ),
        )
        event.occurred_at.GetCurrentTime()
        try:
            await self.ctx.bus.publish(PROGRESS_SUBJECT, event, event.event_id)
        except AimassError as exc:
            logger.debug("progress event of job %s not published: %s", self.job_id, exc)
