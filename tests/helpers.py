"""Assertions and names every component test uses."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import grpc
import pytest

from aimass.registry.v1 import registry_pb2_grpc
from services.common.db import upgrade_database_async
from services.common.grpc.server import RunningServer
from services.registry.config import RegistrySettings
from services.registry.registry import Registry
from services.registry.server import build_server
from tests.conftest import nats_url


async def refused(call: Awaitable[Any], code: grpc.StatusCode, *fragments: str) -> str:
    """Await a call that must fail with ``code`` and a message containing every fragment."""
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    details = error.value.details() or ""
    assert error.value.code() == code, details
    for fragment in fragments:
        assert fragment in details, f"{fragment!r} not in {details!r}"
    return details


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def registry_settings(home: Path, db_url: str, namespace: str, **extra: Any) -> RegistrySettings:
    """A registry for tests: port 0, no metrics port, the test NATS, its own bus namespace."""
    return RegistrySettings(
        home=home,
        registry_port=0,
        registry_db_url=db_url,
        nats_url=nats_url(),
        bus_namespace=namespace,
        metrics_enabled=False,
        grpc_host="127.0.0.1",
        shutdown_grace_seconds=1,
        **extra,
    )


async def serve_registry(
    stack: contextlib.AsyncExitStack, settings: RegistrySettings
) -> tuple[RunningServer, Registry, registry_pb2_grpc.RegistryServiceStub]:
    """Migrate, start the registry on the stack, and open a channel to it."""
    await upgrade_database_async("registry", settings.db_url())
    running, registry = await build_server(settings, stack)
    channel = grpc.aio.insecure_channel(running.address)
    stack.push_async_callback(channel.close)
    return running, registry, registry_pb2_grpc.RegistryServiceStub(channel)
