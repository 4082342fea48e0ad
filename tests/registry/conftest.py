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

import pytest

from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.registry import Registry
from tests.conftest import create_pg_database, delete_streams, drop_pg_database, nats_url
from tests.helpers import registry_settings, serve_registry


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
    namespace = f"t{uuid.uuid4().hex[:10]}"
    settings = registry_settings(home, db_url, namespace)
    async with contextlib.AsyncExitStack() as stack:
        running, registry, stub = await serve_registry(stack, settings)
        yield RegistryHandle(
            request.param,
            stub,
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
