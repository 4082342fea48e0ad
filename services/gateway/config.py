"""The gateway's settings: AIMASS_GATEWAY_* on top of the common AIMASS_* ones."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.common.settings import CommonSettings

DEFAULT_PORT = 8000


class GatewaySettings(CommonSettings):
    gateway_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    gateway_host: str = "0.0.0.0"
    gateway_db_url: str = Field(default="", description="Default: SQLite under AIMASS_HOME.")
    gateway_workers: int = Field(default=1, ge=1, le=64)
    admin_token: SecretStr | None = Field(
        default=None,
        description="AIMASS_ADMIN_TOKEN: the bootstrap admin token; printed once when unset.",
    )
    registry_address: str = "127.0.0.1:50051"
    ingest_address: str = "127.0.0.1:50052"
    trainer_address: str = "127.0.0.1:50053"
    predictor_address: str = "127.0.0.1:50054"
    monitor_address: str = "127.0.0.1:50055"
    gateway_backend_timeout_seconds: float = Field(default=30.0, gt=0)
    gateway_predict_timeout_seconds: float = Field(default=10.0, gt=0)
    gateway_predictor_channels: int = Field(
        default=2, ge=1, le=64, description="Pooled gRPC channels to the predictor."
    )
    gateway_coalesce_max_rows: int = Field(
        default=256,
        ge=1,
        description="Most rows of concurrent predictions of one deployment fused into one "
        "predictor call; 1 sends every request alone.",
    )
    gateway_coalesce_in_flight: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Calls one gateway process has out to the predictor per deployment before "
        "further requests wait to leave together.",
    )
    gateway_max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Largest JSON or binary request body."
    )
    gateway_token_cache_seconds: float = Field(
        default=2.0, ge=0, le=5, description="How long a replica trusts a looked-up token."
    )
    gateway_usage_flush_seconds: float = Field(default=1.0, gt=0, le=60)

    def db_url(self) -> str:
        return self.gateway_db_url or self.sqlite_url("gateway")
