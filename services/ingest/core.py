"""What ingest's parts share: callers, ids, timestamps and the unit of work with its outbox
(services.common.outbox, bound to ingest's own ``outbox`` table)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import outbox
from services.common.outbox import Caller, UnitOfWork, new_id, timestamp
from services.ingest import models

__all__ = ["Caller", "Database", "UnitOfWork", "create_database", "new_id", "timestamp"]

Database = outbox.Database[UnitOfWork]


def create_database(sessions: async_sessionmaker[AsyncSession]) -> Database:
    return outbox.Database(sessions, models.OutboxMessage, UnitOfWork)
