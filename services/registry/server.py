"""Assemble and run the registry: database, bus, outbox relay, store, gRPC server, metrics."""

from __future__ import annotations

import contextlib

import grpc

from aimass.registry.v1 import registry_pb2, registry_pb2_grpc
from services.common.grpc.server import RunningServer, serve
from services.common.lifecycle import run_service
from services.common.outbox import open_database_and_bus
from services.common.store import ArtifactStore
from services.registry import models
from services.registry.config import RegistrySettings
from services.registry.core import UnitOfWork
from services.registry.events import MESSAGE_TYPES
from services.registry.registry import Registry
from services.registry.servicer import RegistryServicer

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


async def build_server(
    settings: RegistrySettings, stack: contextlib.AsyncExitStack
) -> tuple[RunningServer, Registry]:
    db, _ = await open_database_and_bus(
        stack,
        settings,
        name="registry",
        db_url=settings.db_url(),
        outbox_model=models.OutboxMessage,
        unit_type=UnitOfWork,
        message_types=MESSAGE_TYPES,
        batch_size=settings.registry_outbox_batch,
    )
    store = ArtifactStore.from_settings(settings)
    registry = Registry(db, store)

    def register(server: grpc.aio.Server) -> None:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(registry), server)

    running = await serve(
        stack,
        settings,
        port=settings.registry_port,
        metrics_port=settings.registry_metrics_port,
        register=register,
        service_names=[SERVICE_NAME],
    )
    return running, registry


async def main(settings: RegistrySettings | None = None) -> None:
    settings = settings or RegistrySettings()
    await run_service("registry", settings, lambda stack: build_server(settings, stack))
