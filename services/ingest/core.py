"""What ingest's parts share: callers, ids, timestamps and the unit of work with its outbox
(services.common.outbox; server.py binds it to ingest's own ``outbox`` table)."""

from __future__ import annotations

from services.common import outbox
from services.common.outbox import Caller, UnitOfWork, new_id, timestamp

__all__ = ["Caller", "Database", "UnitOfWork", "new_id", "timestamp"]

Database = outbox.Database[UnitOfWork]
