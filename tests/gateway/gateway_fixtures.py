"""The gateway under test: the real app (its lifespan, its database, real gRPC channels to real
backends) driven in process through httpx's ASGI transport, or as a real uvicorn server when a
test needs real sockets (streamed bodies, several replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from services.common.db import upgrade_database_async
from services.gateway.config import GatewaySettings
from services.gateway.main import create_app

ADMIN_SECRET = "amk_test-admin-token-for-the-gateway-tests-0123456789"
UNUSED_ADDRESS = "127.0.0.1:1"  # nothing listens: calls fail UNAVAILABLE at once


def gateway_settings(home: Path, db_url: str = "", **addresses: Any) -> GatewaySettings:
    """Backends default to an address where nothing listens; pass e.g. registry_address=..."""
    defaults = {
        f"{name}_address": UNUSED_ADDRESS
        for name in ("registry", "ingest", "trainer", "predictor", "monitor")
    }
    defaults.update(addresses)
    return GatewaySettings(
        home=home,
        gateway_port=0,
        gateway_db_url=db_url or f"sqlite+aiosqlite:///{home / 'gateway.db'}",
        admin_token=ADMIN_SECRET,
        metrics_enabled=False,
        gateway_backend_timeout_seconds=5,
        gateway_predict_timeout_seconds=5,
        **defaults,
    )


@dataclass
class Gateway:
    app: FastAPI
    settings: GatewaySettings
    client: httpx.AsyncClient  # no token
    admin: httpx.AsyncClient  # the bootstrap admin token

    def as_token(self, secret: str) -> httpx.AsyncClient:
        """A client of the same app carrying another token (closed with the gateway)."""
        client = httpx.AsyncClient(
            transport=self.client._transport,
            base_url=str(self.client.base_url),
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        self._extra.append(client)
        return client

    async def issue(self, project: str, scopes: list[str], **extra: Any) -> str:
        """A new token's secret, issued by the admin."""
        body = {"name": f"test {'+'.join(scopes)}", "project": project, "scopes": scopes, **extra}
        response = await self.admin.post("/api/v1/tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["secret"])

    def __post_init__(self) -> None:
        self._extra: list[httpx.AsyncClient] = []


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """Migrate the gateway's database, run the app's lifespan, yield clients."""
    await upgrade_database_async("gateway", settings.db_url())
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base = "http://gateway.test"
        async with (
            httpx.AsyncClient(transport=transport, base_url=base, timeout=30) as client,
            httpx.AsyncClient(
                transport=transport,
                base_url=base,
                headers={"Authorization": f"Bearer {ADMIN_SECRET}"},
                timeout=30,
            ) as admin,
        ):
            gateway = Gateway(app, settings, client, admin)
            try:
                yield gateway
            finally:
                for extra in gateway._extra:
                    await extra.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def served_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The app on a real uvicorn server in this loop; yields its base URL."""
    await upgrade_database_async("gateway", settings.db_url())
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
