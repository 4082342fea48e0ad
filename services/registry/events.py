"""The outbox relay: publishes events committed with their changes, then removes them.

Writes put their events in the ``outbox`` table inside the same transaction, so an event is never
lost when NATS is down and never announced for a change that rolled back. The relay publishes with
``Nats-Msg-Id = event_id``; a crash between publish and delete republishes, and JetStream drops the
duplicate. Several registry replicas may run relays: PostgreSQL rows are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from sqlalchemy import delete, select

from aimass.events.v1 import events_pb2
from services.common.bus import Bus
from services.common.errors import AimassError
from services.registry import models
from services.registry.core import Database

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0
FINAL_FLUSH_SECONDS = 5.0


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, batch_size: int = 500) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def __aenter__(self) -> OutboxRelay:
        self._task = asyncio.create_task(self._run(), name="registry-outbox-relay")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(AimassError, OSError, TimeoutError):
            await asyncio.wait_for(self.publish_pending(), FINAL_FLUSH_SECONDS)

    async def _run(self) -> None:
        backoff = 0.0
        while True:
            if backoff:
                await asyncio.sleep(backoff)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.db.outbox_wakeup.wait(), IDLE_POLL_SECONDS)
                self.db.outbox_wakeup.clear()
            try:
                while await self.publish_pending() == self.batch_size:
                    pass
                backoff = 0.0
            except (AimassError, OSError) as exc:
                backoff = min(MAX_BACKOFF_SECONDS, max(0.2, backoff * 2))
                logger.warning(
                    "outbox relay cannot publish yet (%s); retrying in %.1fs", exc, backoff
                )
            except Exception:
                backoff = MAX_BACKOFF_SECONDS
                logger.exception("outbox relay failed; retrying in %.1fs", backoff)

    async def publish_pending(self) -> int:
        query = select(models.OutboxEvent).order_by(models.OutboxEvent.id).limit(self.batch_size)
        async with self.db.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).scalars().all()
            for row in rows:
                event = events_pb2.Event.FromString(row.payload)
                await self.bus.publish(row.subject, event, row.event_id)
            if rows:
                await session.execute(
                    delete(models.OutboxEvent).where(
                        models.OutboxEvent.id.in_([row.id for row in rows])
                    )
                )
        self.published += len(rows)
        return len(rows)
