"""Assemble and run ingest: database, bus, outbox relay, store, registry channel, worker,
janitor, gRPC server, metrics."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import grpc

from aimass.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.bus import connect
from services.common.db import create_engine, create_sessionmaker
from services.common.grpc.server import RunningServer, start_grpc_server
from services.common.lifecycle import run_service
from services.common.metrics import start_metrics_server
from services.common.outbox import OutboxRelay
from services.common.settings import metrics_port_for
from services.common.store import ArtifactStore
from services.ingest.config import IngestSettings
from services.ingest.context import IngestContext
from services.ingest.core import create_database
from services.ingest.events import MESSAGE_TYPES
from services.ingest.registry_client import RegistryClient
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
    engine = create_engine(settings.db_url())
    stack.push_async_callback(engine.dispose)
    db = create_database(create_sessionmaker(engine))
    bus = await connect(settings, name="ingest")
    stack.push_async_callback(bus.close, settings.shutdown_grace_seconds)
    await bus.ensure_streams()
    await stack.enter_async_context(
        OutboxRelay(db, bus, MESSAGE_TYPES, settings.ingest_outbox_batch, "ingest-outbox")
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

    if settings.metrics_enabled:
        metrics_port = settings.ingest_metrics_port
        if metrics_port is None:
            metrics_port = metrics_port_for(settings.ingest_port)
        start_metrics_server(stack, settings.grpc_host, metrics_port)
    running = await start_grpc_server(
        stack,
        host=settings.grpc_host,
        port=settings.ingest_port,
        register=register,
        service_names=[SERVICE_NAME],
        grace_seconds=settings.shutdown_grace_seconds,
    )
    return IngestServer(running, ingest, worker)


async def main(settings: IngestSettings | None = None) -> None:
    settings = settings or IngestSettings()
    await run_service("ingest", settings, lambda stack: build_server(settings, stack))
