"""Ingest's tables: saved sources, their secrets, uploads, jobs and the outbox. Only ingest writes
them (DESIGN.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION, UtcDateTime, utcnow
from services.common.outbox import OutboxRow

ID = String(32)
NAME = String(128)
ACTOR = String(256)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Secret(Base):
    """A secret a caller gave inline, encrypted with the service key; never returned."""

    __tablename__ = "secrets"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceDefinition(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    # The FileSource / SqlSource as JSON, credentials reduced to references.
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_id: Mapped[str | None] = mapped_column(ForeignKey("secrets.id"), default=None)
    created_by: Mapped[str] = mapped_column(ACTOR, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    file_name: Mapped[str] = mapped_column(String(256))
    store_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(80), default="")
    created_by: Mapped[str] = mapped_column(ACTOR, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IngestJob(Base):
    __tablename__ = "ingest_jobs"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key"),
        Index("ix_ingest_jobs_project_created", "project_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID)
    project: Mapped[str] = mapped_column(NAME)
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Recipe and IngestTarget as proto JSON; inline secrets replaced by "stored:<id>" references.
    recipe: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dataset: Mapped[str] = mapped_column(NAME, default="")
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str] = mapped_column(ACTOR, default="")
    run_id: Mapped[str] = mapped_column(ID, default="")
    dataset_version_id: Mapped[str | None] = mapped_column(ID, default=None, index=True)
    # Store prefixes the job's attempts committed parts to (one each); the unused ones are removed.
    output_prefixes: Mapped[list[Any]] = mapped_column(default=list)
    upload_ids: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(ACTOR, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(OutboxRow, Base):
    """Jobs (aimass.jobs.ingest) and events (aimass.ingest.>) written with their change."""
