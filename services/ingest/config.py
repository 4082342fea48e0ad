"""Ingest's settings: AIMASS_INGEST_* on top of the common AIMASS_* ones."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from services.common.settings import CommonSettings

DEFAULT_PORT = 50052
GiB = 1 << 30


class IngestSettings(CommonSettings):
    ingest_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    ingest_metrics_port: int | None = Field(
        default=None, description="Defaults to the gRPC port + 1000."
    )
    ingest_db_url: str = Field(default="", description="Default: SQLite under AIMASS_HOME.")
    ingest_work_dir: Path | None = Field(
        default=None, description="Local scratch space (spill, parts); default <home>/ingest-work."
    )
    ingest_memory_limit: str = Field(default="1GB", description="DuckDB memory_limit per job.")
    ingest_threads: int = Field(default=2, ge=1, le=256)
    ingest_parquet_version: Literal["v1", "v2"] = Field(
        default="v2",
        description="Parquet format of dataset parts: v2 (delta and byte-stream-split encodings, "
        "smaller and faster) or v1 for readers that predate them.",
    )
    ingest_max_upload_bytes: int = Field(default=10 * GiB, ge=1)
    ingest_max_file_bytes: int = Field(default=100 * GiB, ge=1)
    ingest_allowed_url_prefixes: list[str] = Field(
        default_factory=list,
        description="file:// and s3:// prefixes a FileSource url must start with "
        "(default: <home>/imports/). The artifact store itself is never readable this way.",
    )
    ingest_upload_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    ingest_gc_interval_seconds: float = Field(default=600.0, gt=0)
    ingest_staging_max_age_seconds: float = Field(default=6 * 3600.0, gt=0)
    ingest_worker_enabled: bool = True
    ingest_worker_concurrency: int = Field(default=1, ge=1, le=64)
    ingest_ack_wait_seconds: float = Field(default=30.0, gt=0)
    ingest_max_deliver: int = Field(default=5, ge=1)
    ingest_progress_interval_seconds: float = Field(default=1.0, gt=0)
    ingest_validate_sample_rows: int = Field(
        default=200, ge=0, description="Rows of each source read to validate a job (0: skip)."
    )
    ingest_preview_concurrency: int = Field(default=2, ge=1, le=64)
    ingest_outbox_batch: int = Field(default=500, ge=1, le=10_000)
    ingest_secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key encrypting stored secrets; default: <home>/ingest-secret.key.",
    )
    ingest_secret_env_prefix: str = Field(
        default="AIMASS_SECRET_", description="env:NAME secret references must start with this."
    )
    ingest_secret_dirs: list[Path] = Field(
        default_factory=lambda: [Path("/run/secrets")],
        description="file:/path secret references must lie under one of these.",
    )
    ingest_worker_id: str = Field(default="", description="Default: <hostname>:<pid>.")
    ingest_test_job_delay_seconds: float = Field(
        default=0.0, ge=0, description="Tests only: slow every job down (crash/redelivery tests)."
    )
    registry_address: str = Field(default="127.0.0.1:50051")
    registry_timeout_seconds: float = Field(default=30.0, gt=0)

    def db_url(self) -> str:
        return self.ingest_db_url or self.sqlite_url("ingest")

    def work_dir(self) -> Path:
        return (self.ingest_work_dir or self.home / "ingest-work").resolve()

    def allowed_url_prefixes(self) -> list[str]:
        """What FileSource urls may start with (each ends with '/')."""
        prefixes = self.ingest_allowed_url_prefixes or [self.imports_dir().as_uri()]
        return [p if p.endswith("/") else p + "/" for p in prefixes]

    def imports_dir(self) -> Path:
        return self.home.resolve() / "imports"

    def secret_key_file(self) -> Path:
        return self.home.resolve() / "ingest-secret.key"
