"""A real registry server per database backend (SQLite, PostgreSQL), through a real channel.

Tests isolate themselves by working in a project of their own (the ``project`` fixture), so one
server per backend serves the whole session.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from services.common.db import upgrade_database_async
from services.registry.config import RegistrySettings
from services.registry.registry import Registry
from services.registry.server import build_server
from tests.conftest import create_pg_database, delete_streams, drop_pg_database, nats_url


@dataclass
class RegistryHandle:
    backend: str
    stub: registry_pb2_grpc.RegistryServiceStub
    registry: Registry
    settings: RegistrySettings
    address: str

    def meta(self, actor: str = "tester") -> tuple[tuple[str, str], ...]:
        return (("x-aimass-actor", actor),)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RegistryHandle]:
    home: Path = tmp_path_factory.mktemp(f"registry-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite+aiosqlite:///{home / 'registry.db'}"
    else:
        db_url = await create_pg_database("aimass_registry")
    await upgrade_database_async("registry", db_url)
    namespace = f"t{uuid.uuid4().hex[:10]}"
    settings = RegistrySettings(
        home=home,
        registry_port=0,
        registry_db_url=db_url,
        nats_url=nats_url(),
        bus_namespace=namespace,
        metrics_enabled=False,
        grpc_host="127.0.0.1",
        shutdown_grace_seconds=1,
    )
    async with contextlib.AsyncExitStack() as stack:
        running, registry = await build_server(settings, stack)
        channel = grpc.aio.insecure_channel(running.address)
        stack.push_async_callback(channel.close)
        yield RegistryHandle(
            request.param,
            registry_pb2_grpc.RegistryServiceStub(channel),
            registry,
            settings,
            running.address,
        )
    await delete_streams(nats_url(), f"{namespace}_")
    if request.param == "postgresql":
        await drop_pg_database(db_url)


@pytest.fixture
async def project(registry: RegistryHandle) -> pb.Project:
    """A fresh project, so every test has its own tenancy."""
    return await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=f"p-{uuid.uuid4().hex[:10]}", description="test"),
        metadata=registry.meta(),
        timeout=10,
    )
