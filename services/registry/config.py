"""The registry's settings: AIMASS_REGISTRY_* on top of the common AIMASS_* ones."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings

DEFAULT_PORT = 50051


class RegistrySettings(CommonSettings):
    registry_port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    registry_metrics_port: int | None = Field(
        default=None, description="Defaults to the gRPC port + 1000."
    )
    registry_db_url: str = Field(default="", description="Default: SQLite under AIMASS_HOME.")
    registry_outbox_batch: int = Field(default=500, ge=1, le=10_000)

    def db_url(self) -> str:
        return self.registry_db_url or self.sqlite_url("registry")
