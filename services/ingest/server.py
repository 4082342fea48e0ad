"""Assemble and run ingest: database, bus, outbox relay, store, registry channel, worker,
janitor, gRPC server, metrics."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import grpc

from aimass.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.grpc.server import RunningServer, serve
from services.common.lifecycle import run_service
from services.common.outbox import open_database_and_bus
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.ingest import models
from services.ingest.config import IngestSettings
from services.ingest.context import IngestContext
from services.ingest.core import UnitOfWork
from services.ingest.events import MESSAGE_TYPES
from services.ingest.service import Ingest
from services.ingest.servicer import IngestServicer
from services.ingest.worker import IngestWorker

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


@dataclass
class IngestServer:
    running: RunningServer
    ingest: Ingest
    worker: IngestWorker | None


async def build_server(settings: IngestSettings, stack: contextlib.AsyncExitStack) -> IngestServer:
    db, bus = await open_database_and_bus(
        stack,
        settings,
        name="ingest",
        db_url=settings.db_url(),
        outbox_model=models.OutboxMessage,
        unit_type=UnitOfWork,
        message_types=MESSAGE_TYPES,
        batch_size=settings.ingest_outbox_batch,
    )
    store = ArtifactStore.from_settings(settings)
    await store.check()
    registry = RegistryClient(settings.registry_address, settings.registry_timeout_seconds)
    stack.push_async_callback(registry.close)
    settings.work_dir().mkdir(parents=True, exist_ok=True)
    ingest = Ingest(IngestContext.build(settings, db, store, registry, bus))
    await stack.enter_async_context(ingest.janitor)
    worker = None
    if settings.ingest_worker_enabled:
        worker = await stack.enter_async_context(IngestWorker(ingest.ctx))

    def register(server: grpc.aio.Server) -> None:
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(ingest), server)

    running = await serve(
        stack,
        settings,
        port=settings.ingest_port,
        metrics_port=settings.ingest_metrics_port,
        register=register,
        service_names=[SERVICE_NAME],
    )
    return IngestServer(running, ingest, worker)


async def main(settings: IngestSettings | None = None) -> None:
    settings = settings or IngestSettings()
    await run_service("ingest", settings, lambda stack: build_server(settings, stack))
