"""The registry's tables. Only the registry writes them (DESIGN.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
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
KIND = String(32)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Project(Timestamps, Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogEntry(Timestamps):
    """Datasets and models: named per project, owned, versioned and shareable alike."""

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(256), default="")
    visibility: Mapped[str] = mapped_column(KIND, default="private")
    latest_version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(CatalogEntry, Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)


class DatasetVersion(Timestamps, Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        UniqueConstraint("dataset_id", "idempotency_key"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    uri: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80), default="")
    schema: Mapped[dict[str, Any]] = mapped_column(default=dict)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    statistics: Mapped[list[Any]] = mapped_column(default=list)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    parent_version_ids: Mapped[list[Any]] = mapped_column(default=list)
    split_rows: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recipe_json: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(256), default="")
    producer_run_id: Mapped[str] = mapped_column(String(32), default="")
    skipped_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)


class Run(Timestamps, Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("project_id", "idempotency_key"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(KIND, default="")
    status: Mapped[str] = mapped_column(KIND, index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    input_dataset_version_ids: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)


class RunParam(Base):
    __tablename__ = "run_params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    value_number: Mapped[float | None] = mapped_column(Float, default=None)


class MetricPoint(Base):
    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_run_key_step", "run_id", "key", "step"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ID)
    key: Mapped[str] = mapped_column(String(250))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)


class LatestMetric(Base):
    __tablename__ = "latest_metrics"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)


class RunArtifact(Base):
    __tablename__ = "run_artifacts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str] = mapped_column(String(80), default="")


class RunAttempt(Base):
    __tablename__ = "run_attempts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(256), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(KIND)
    reason: Mapped[str] = mapped_column(Text, default="")


class Model(CatalogEntry, Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("project_id", "name"),)


class ModelVersion(Timestamps, Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        UniqueConstraint("model_id", "idempotency_key"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    framework: Mapped[str] = mapped_column(String(64), default="")
    artifact_format: Mapped[str] = mapped_column(String(64), default="")
    artifact_uri: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(80), default="")
    signature: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    task: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(256), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)


class ModelAlias(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class AliasMove(Base):
    __tablename__ = "alias_moves"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    alias: Mapped[str] = mapped_column(NAME)
    from_version: Mapped[int] = mapped_column(BigInteger, default=0)
    to_version: Mapped[int] = mapped_column(BigInteger, default=0)
    actor: Mapped[str] = mapped_column(String(256), default="")
    moved_at: Mapped[datetime] = mapped_column(default=utcnow)


class Share(Base):
    """A dataset or model shared with another project."""

    __tablename__ = "shares"
    entity_kind: Mapped[str] = mapped_column(KIND, primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True, index=True)


class Tag(Base):
    __tablename__ = "tags"
    entity_kind: Mapped[str] = mapped_column(KIND, primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Deployment(Timestamps, Base):
    __tablename__ = "deployments"
    # Names are unique across projects too: the predictor serves deployments by name alone.
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("uq_deployments_name", "name", unique=True),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(NAME)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    alias: Mapped[str] = mapped_column(String(128), default="")
    resolved_version: Mapped[int] = mapped_column(BigInteger, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(KIND, default="pending")
    status_message: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(BigInteger, default=1)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentRevision(Base):
    __tablename__ = "deployment_revisions"
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    alias: Mapped[str] = mapped_column(String(128), default="")
    resolved_version: Mapped[int] = mapped_column(BigInteger, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageEdge(Base):
    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint(
            "source_kind",
            "source_id",
            "target_kind",
            "target_id",
            "relation",
            name="uq_lineage_edges_edge",
        ),
        Index("ix_lineage_edges_source", "source_kind", "source_id"),
        Index("ix_lineage_edges_target", "target_kind", "target_id"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source_kind: Mapped[str] = mapped_column(KIND)
    source_id: Mapped[str] = mapped_column(String(512))
    target_kind: Mapped[str] = mapped_column(KIND)
    target_id: Mapped[str] = mapped_column(String(512))
    relation: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(OutboxRow, Base):
    """Events written with their change, published after commit (services.common.outbox)."""
