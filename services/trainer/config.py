"""The trainer's settings: AIMASS_TRAINER_* on top of the common AIMASS_* ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import CommonSettings

DEFAULT_PORT = 50053


class TrainerSettings(CommonSettings):
    trainer_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    trainer_metrics_port: int | None = Field(
        default=None, description="Defaults to the gRPC port + 1000."
    )
    trainer_work_dir: Path | None = Field(
        default=None,
        description="Local scratch space (data, model files); default <home>/trainer-work.",
    )
    trainer_study_db_url: str = Field(
        default="",
        description="Where tuning studies live (Optuna); replicas that tune together must share "
        "it. Default: SQLite under AIMASS_HOME (one machine only); production: PostgreSQL.",
    )
    trainer_threads: int = Field(
        default=0, ge=0, le=256, description="Threads per job (0: the CPUs this process may use)."
    )
    trainer_worker_enabled: bool = True
    trainer_worker_concurrency: int = Field(default=1, ge=1, le=64)
    trainer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    trainer_max_deliver: int = Field(default=3, ge=1)
    trainer_progress_interval_seconds: float = Field(default=1.0, gt=0)
    trainer_max_rows: int = Field(
        default=50_000_000, ge=1, description="Rows a job may load into one worker's memory."
    )
    trainer_worker_id: str = Field(default="", description="Default: <hostname>:<pid>.")
    trainer_test_job_delay_seconds: float = Field(
        default=0.0, ge=0, description="Tests only: slow every job down (crash/redelivery tests)."
    )
    registry_address: str = Field(default="127.0.0.1:50051")
    registry_timeout_seconds: float = Field(default=30.0, gt=0)

    def work_dir(self) -> Path:
        return (self.trainer_work_dir or self.home / "trainer-work").resolve()

    def study_db_url(self) -> str:
        return self.trainer_study_db_url or self.sqlite_url("trainer-studies")
