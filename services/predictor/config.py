"""The predictor's settings: AIMASS_PREDICTOR_* on top of the common AIMASS_* ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import CommonSettings

DEFAULT_PORT = 50054


class PredictorSettings(CommonSettings):
    predictor_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    predictor_metrics_port: int | None = Field(
        default=None, description="Defaults to the gRPC port + 1000."
    )
    predictor_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes sharing the port (SO_REUSEPORT), each with every model loaded.",
    )
    predictor_model_dir: Path | None = Field(
        default=None, description="Where model artifacts are downloaded; default <home>/models."
    )
    predictor_projects: list[str] = Field(
        default_factory=list,
        description="Serve only these projects' deployments (names or ids); empty: all.",
    )
    predictor_resync_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often deployments are re-read from the registry, for missed events.",
    )
    predictor_drain_seconds: float = Field(
        default=30.0, gt=0, description="How long a replaced version may finish its requests."
    )
    predictor_log_capacity: int = Field(
        default=10_000, ge=1, description="Prediction records buffered for publishing."
    )
    predictor_instance: str = Field(default="", description="Default: <hostname>:<pid>.")
    registry_address: str = Field(default="127.0.0.1:50051")
    registry_timeout_seconds: float = Field(default=30.0, gt=0)

    def model_dir(self) -> Path:
        return (self.predictor_model_dir or self.home / "models").resolve()
