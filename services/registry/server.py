"""Assemble and run the registry: database, bus, outbox relay, store, gRPC server, metrics."""

from __future__ import annotations

import contextlib

import grpc

from aimass.registry.v1 import registry_pb2, registry_pb2_grpc
from services.common.bus import connect
from services.common.db import create_engine, create_sessionmaker
from services.common.grpc.server import RunningServer, start_grpc_server
from services.common.lifecycle import run_service
from services.common.metrics import start_metrics_server
from services.common.outbox import OutboxRelay
from services.common.settings import metrics_port_for
from services.common.store import ArtifactStore
from services.registry.config import RegistrySettings
from services.registry.core import create_database
from services.registry.events import MESSAGE_TYPES
from services.registry.registry import Registry
from services.registry.servicer import RegistryServicer

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


async def build_server(
    settings: RegistrySettings, stack: contextlib.AsyncExitStack
) -> tuple[RunningServer, Registry]:
    engine = create_engine(settings.db_url())
    stack.push_async_callback(engine.dispose)
    db = create_database(create_sessionmaker(engine))
    bus = await connect(settings, name="registry")
    stack.push_async_callback(bus.close, settings.shutdown_grace_seconds)
    await bus.ensure_streams()
    await stack.enter_async_context(
        OutboxRelay(db, bus, MESSAGE_TYPES, settings.registry_outbox_batch, "registry-outbox")
    )
    store = ArtifactStore.from_settings(settings)
    registry = Registry(db, store)

    def register(server: grpc.aio.Server) -> None:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(registry), server)

    if settings.metrics_enabled:
        metrics_port = settings.registry_metrics_port
        if metrics_port is None:
            metrics_port = metrics_port_for(settings.registry_port)
        start_metrics_server(stack, settings.grpc_host, metrics_port)
    running = await start_grpc_server(
        stack,
        host=settings.grpc_host,
        port=settings.registry_port,
        register=register,
        service_names=[SERVICE_NAME],
        grace_seconds=settings.shutdown_grace_seconds,
    )
    return running, registry


async def main(settings: RegistrySettings | None = None) -> None:
    settings = settings or RegistrySettings()
    await run_service("registry", settings, lambda stack: build_server(settings, stack))
