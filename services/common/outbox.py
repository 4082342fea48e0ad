"""The transactional outbox every service with a database uses to publish on the bus.

A change and the messages announcing it are written in one transaction (the ``outbox`` table); the
relay publishes committed rows with ``Nats-Msg-Id = msg_id`` and then deletes them. A message is
never lost while NATS is down and never sent for a change that rolled back; a crash between publish
and delete republishes, and JetStream drops the duplicate. Replicas on PostgreSQL claim rows with
SKIP LOCKED, so several relays can run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import BigInteger, Integer, LargeBinary, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from services.common.bus import Bus, connect
from services.common.db import create_engine, create_sessionmaker
from services.common.db.types import utcnow
from services.common.errors import AimassError
from services.common.lifecycle import BackgroundTask
from services.common.settings import CommonSettings

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0
FINAL_FLUSH_SECONDS = 5.0


def new_id() -> str:
    return uuid.uuid4().hex


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


class OutboxRow:
    """Columns of a service's ``outbox`` table: ``class OutboxMessage(OutboxRow, Base)``."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(256))
    message_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class Caller:
    """Who acts: the actor (from x-aimass-actor) on behalf of a project (name or id)."""

    actor: str
    project: str = ""


@dataclass
class UnitOfWork:
    """One transaction plus the messages it will publish once it commits."""

    session: AsyncSession
    caller: Caller
    outbox_model: Any
    pending: list[Any] = field(default_factory=list)

    def publish(self, subject: str, message: Message, msg_id: str) -> None:
        row = self.outbox_model(
            msg_id=msg_id,
            subject=subject,
            message_type=message.DESCRIPTOR.full_name,
            payload=message.SerializeToString(),
        )
        self.session.add(row)
        self.pending.append(row)


Work = TypeVar("Work", bound=UnitOfWork)


class Database(Generic[Work]):
    """Opens units of work and wakes the relay after each commit that queued messages."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox_model: Any,
        unit_type: type[Work],
    ) -> None:
        self.sessions = sessions
        self.outbox_model = outbox_model
        self.unit_type = unit_type
        self.outbox_wakeup = asyncio.Event()

    @asynccontextmanager
    async def unit(self, caller: Caller) -> AsyncIterator[Work]:
        async with self.sessions() as session, session.begin():
            work = self.unit_type(session, caller, self.outbox_model)
            yield work
        if work.pending:
            self.outbox_wakeup.set()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session


class OutboxRelay(BackgroundTask):
    """Publishes committed outbox rows; ``message_types`` are the payload types it may decode."""

    def __init__(
        self,
        db: Database[Any],
        bus: Bus,
        message_types: Sequence[type[Message]],
        batch_size: int = 500,
        name: str = "outbox-relay",
    ) -> None:
        self.db = db
        self.bus = bus
        self.types = {t.DESCRIPTOR.full_name: t for t in message_types}
        self.batch_size = batch_size
        self.task_name = name
        self.published = 0

    async def after_stop(self) -> None:
        with contextlib.suppress(AimassError, OSError, TimeoutError):
            await asyncio.wait_for(self.publish_pending(), FINAL_FLUSH_SECONDS)

    async def run(self) -> None:
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
                    "%s cannot publish yet (%s); retry in %.1fs", self.task_name, exc, backoff
                )
            except Exception:
                backoff = MAX_BACKOFF_SECONDS
                logger.exception("%s failed; retrying in %.1fs", self.task_name, backoff)

    async def publish_pending(self) -> int:
        model = self.db.outbox_model
        query = select(model).order_by(model.id).limit(self.batch_size)
        async with self.db.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).scalars().all()
            for row in rows:
                message_type = self.types.get(row.message_type)
                if message_type is None:
                    logger.error(
                        "outbox row %d has unknown type %s; dropped", row.id, row.message_type
                    )
                    continue
                await self.bus.publish(
                    row.subject, message_type.FromString(row.payload), row.msg_id
                )
            if rows:
                await session.execute(delete(model).where(model.id.in_([row.id for row in rows])))
        self.published += len(rows)
        return len(rows)


async def open_database_and_bus(
    stack: contextlib.AsyncExitStack,
    settings: CommonSettings,
    *,
    name: str,
    db_url: str,
    outbox_model: Any,
    unit_type: type[Work],
    message_types: Sequence[type[Message]],
    batch_size: int,
) -> tuple[Database[Work], Bus]:
    """The engine, the bus with its streams, and the outbox relay, owned by ``stack`` so they close
    in reverse: relay flush, then bus drain, then engine dispose."""
    engine = create_engine(db_url)
    stack.push_async_callback(engine.dispose)
    db = Database(create_sessionmaker(engine), outbox_model, unit_type)
    bus = await connect(settings, name=name)
    stack.push_async_callback(bus.close, settings.shutdown_grace_seconds)
    await bus.ensure_streams()
    relay = OutboxRelay(db, bus, message_types, batch_size, f"{name}-outbox")
    await stack.enter_async_context(relay)
    return db, bus
