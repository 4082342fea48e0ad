"""Configuration shared by every service: environment variables prefixed ``AIMASS_``.

Each service subclasses :class:`CommonSettings` in its own ``config.py`` and builds it in
``main()``; nothing here is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".aimass")


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIMASS_", extra="ignore", frozen=True)

    home: Path = Field(default=DEFAULT_HOME, description="Local state: SQLite, store, NATS data.")
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="Comma-separated servers.")
    bus_namespace: str = Field(
        default="",
        description="Prefix for every stream and subject; lets tests share one NATS server.",
    )
    store_url: str = Field(default="", description="fsspec URL of the artifact store.")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    grpc_host: str = "0.0.0.0"
    metrics_enabled: bool = True
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator("bus_namespace")
    @classmethod
    def _namespace_is_a_token(cls, value: str) -> str:
        if value and not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("AIMASS_BUS_NAMESPACE may hold only letters, digits, '-' and '_'")
        return value

    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return (self.home.resolve() / "store").as_uri()

    def sqlite_url(self, service: str) -> str:
        return f"sqlite+aiosqlite:///{(self.home.resolve() / f'{service}.db').as_posix()}"


def metrics_port_for(grpc_port: int) -> int:
    """DESIGN.md: every service serves Prometheus metrics on its gRPC port + 1000 (0 stays 0)."""
    return grpc_port + 1000 if grpc_port else 0
