"""The gateway's tables: tokens (hashed), quotas, the shared quota state and usage counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, MetaData, String
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION, UtcDateTime, utcnow

ID = String(32)
NAME = String(128)
ALL_MODELS = ""  # the model key of a token-wide quota, bucket or counter


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # SHA-256 of the secret: tokens are 256 random bits, so a fast hash cannot be brute-forced.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(NAME)
    # Empty: every project (the bootstrap admin token only).
    project: Mapped[str] = mapped_column(NAME, index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    # Empty: every model of the project.
    models: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Quota(Base):
    """Limits of one token, for all its requests (model "") or for one model."""

    __tablename__ = "quotas"
    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True, default=ALL_MODELS)
    rate_per_second: Mapped[float | None] = mapped_column(Float, default=None)
    burst: Mapped[int | None] = mapped_column(BigInteger, default=None)
    period: Mapped[str | None] = mapped_column(String(8), default=None)  # "day" | "month"
    period_limit: Mapped[int | None] = mapped_column(BigInteger, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateBucket(Base):
    """Shared rate-limit state (GCRA): the theoretical arrival time, epoch seconds."""

    __tablename__ = "rate_buckets"
    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0)


class PeriodCounter(Base):
    """Requests admitted in one quota period ("2026-11" or "2026-11-28")."""

    __tablename__ = "period_counters"
    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    period_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    admitted: Mapped[int] = mapped_column(BigInteger, default=0)


class Usage(Base):
    """Requests per token, model and UTC day: what was admitted and what was refused."""

    __tablename__ = "usage"
    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
