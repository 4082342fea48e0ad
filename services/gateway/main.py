"""The gateway's app and process: ``python -m services.gateway`` (HTTP :8000)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from services.common.db import create_engine, create_sessionmaker
from services.common.logs import configure_logging
from services.gateway.api.routes import ROUTERS
from services.gateway.auth import TokenService
from services.gateway.clients import Backends, open_backends
from services.gateway.config import GatewaySettings
from services.gateway.errors import install_error_handlers
from services.gateway.middleware import GatewayMiddleware
from services.gateway.protojson import install_proto_schemas
from services.gateway.quota import QuotaService

logger = logging.getLogger(__name__)

DESCRIPTION = """The REST door to AI Mass: projects, datasets, ingest, training and tuning, models,
deployments, lineage, tokens and quotas under `/api/v1`; prediction in the TensorFlow Serving
(`/v1/models/...`) and Open Inference Protocol (`/v2/...`) REST forms. Every route but health and
these docs needs `Authorization: Bearer <token>` with the scope the route lists."""


def _save_bootstrap_token(home: Path, secret: str) -> Path:
    """Local convenience: the CLI and the demo read the first admin token from <home>."""
    path = home.resolve() / "admin-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return path


def create_app(
    settings: GatewaySettings,
    backends_factory: Callable[[GatewaySettings], Backends] = open_backends,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.db_url())
        sessions = create_sessionmaker(engine)
        app.state.settings = settings
        app.state.tokens = TokenService(sessions, settings.gateway_token_cache_seconds)
        app.state.quotas = QuotaService(sessions, settings.gateway_usage_flush_seconds)
        app.state.backends = backends_factory(settings)
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        secret = await app.state.tokens.ensure_bootstrap(configured)
        if secret:
            saved = _save_bootstrap_token(settings.home, secret)
            logger.warning(
                "bootstrap admin token (shown once, also saved to %s): %s", saved, secret
            )
        await app.state.quotas.start()
        try:
            yield
        finally:
            await app.state.quotas.stop()
            await app.state.backends.close()
            await engine.dispose()

    app = FastAPI(
        title="AI Mass gateway",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_proto_schemas(app)
    app.add_middleware(GatewayMiddleware, max_body_bytes=settings.gateway_max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory for ``--workers``: each worker process builds its own app."""
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, service="gateway")
    return create_app(settings)


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, service="gateway")
    uvicorn.run(
        "services.gateway.main:app_from_env",
        factory=True,
        host=settings.gateway_host,
        port=settings.gateway_port,
        workers=settings.gateway_workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        proxy_headers=True,
    )
