"""Connecting: bounded at start (a clear Unavailable), then reconnecting forever with backoff."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Sequence
from typing import Any

from nats.aio.client import Client, Server

from services.common.bus.client import Bus
from services.common.bus.namespace import Namespace
from services.common.bus.streams import StreamSpec, default_streams
from services.common.errors import Unavailable
from services.common.settings import CommonSettings

logger = logging.getLogger(__name__)

_RECONNECT_BASE = 0.25
_RECONNECT_CAP = 8.0


def _servers(target: CommonSettings | str | Sequence[str]) -> list[str]:
    if isinstance(target, CommonSettings):
        target = target.nats_url
    parts = target.split(",") if isinstance(target, str) else list(target)
    servers = [part.strip() for part in parts if part.strip()]
    if not servers:
        raise ValueError("no NATS server given: set AIMASS_NATS_URL (comma-separated URLs)")
    return servers


def _next_server(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
    """Reconnect policy: the least-tried server, after an exponential delay with jitter."""
    server = min(servers, key=lambda s: s.reconnects)
    delay = min(_RECONNECT_CAP, _RECONNECT_BASE * 2 ** min(server.reconnects, 10))
    return server, delay * random.uniform(0.5, 1.0)


class _Callbacks:
    def __init__(self, name: str, nc: Client) -> None:
        self.name = name
        self.nc = nc
        self.connected = False
        self.last_error: Exception | None = None

    async def error(self, exc: Exception) -> None:
        self.last_error = exc
        if self.connected:
            logger.warning("NATS (%s): %s", self.name, exc)
        else:
            logger.info("NATS (%s) not reachable yet: %s", self.name, exc)

    async def disconnected(self) -> None:
        if self.connected and not self.nc.is_closed:  # a close() also reports a disconnect
            logger.warning("NATS (%s) disconnected; reconnecting", self.name)

    async def reconnected(self) -> None:
        logger.warning("NATS (%s) reconnected", self.name)

    async def closed(self) -> None:
        logger.info("NATS (%s) connection closed", self.name)


async def connect(
    target: CommonSettings | str | Sequence[str],
    *,
    name: str,
    namespace: str | None = None,
    streams: Sequence[StreamSpec] | None = None,
    connect_timeout: float = 10.0,
) -> Bus:
    """Connect within ``connect_timeout`` seconds or raise Unavailable; afterwards the connection
    reconnects forever with backoff. ``namespace`` defaults to settings.bus_namespace (or "")."""
    servers = _servers(target)
    if namespace is None:
        namespace = target.bus_namespace if isinstance(target, CommonSettings) else ""
    nc = Client()
    callbacks = _Callbacks(name, nc)
    options: dict[str, Any] = {
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": max(1, min(2, int(connect_timeout))),
        "ping_interval": 20,
        "error_cb": callbacks.error,
        "disconnected_cb": callbacks.disconnected,
        "reconnected_cb": callbacks.reconnected,
        "closed_cb": callbacks.closed,
    }
    if "reconnect_to_server_handler" in inspect.signature(nc.connect).parameters:
        options["reconnect_to_server_handler"] = _next_server  # newer nats-py only
    try:
        await asyncio.wait_for(nc.connect(servers, **options), connect_timeout)
        await nc.jetstream().account_info()
    except Exception as exc:
        await nc.close()
        cause = callbacks.last_error or exc
        raise Unavailable(
            f"cannot use NATS JetStream at {', '.join(servers)} ({type(cause).__name__}: {cause}); "
            "start nats-server with JetStream (nats-server -js, or `aimass up`) "
            "or point AIMASS_NATS_URL at a running one"
        ) from exc
    callbacks.connected = True
    logger.info(
        "connected to NATS at %s as %s", nc.connected_url.netloc if nc.connected_url else "?", name
    )
    return Bus(nc, Namespace(namespace), streams if streams is not None else default_streams())
