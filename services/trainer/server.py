"""Assemble and run the trainer: bus, store, registry channel, worker, gRPC server, metrics."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import grpc

from aimass.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from services.common.bus import connect
from services.common.grpc.server import RunningServer, serve
from services.common.lifecycle import run_service
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.trainer.config import TrainerSettings
from services.trainer.context import TrainerContext
from services.trainer.service import Trainer
from services.trainer.servicer import TrainerServicer
from services.trainer.worker import TrainerWorker

SERVICE_NAME = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name


@dataclass
class TrainerServer:
    running: RunningServer
    trainer: Trainer
    worker: TrainerWorker | None


async def build_server(
    settings: TrainerSettings, stack: contextlib.AsyncExitStack
) -> TrainerServer:
    bus = await connect(settings, name="trainer")
    stack.push_async_callback(bus.close, settings.shutdown_grace_seconds)
    await bus.ensure_streams()
    store = ArtifactStore.from_settings(settings)
    await store.check()
    registry = RegistryClient(settings.registry_address, settings.registry_timeout_seconds)
    stack.push_async_callback(registry.close)
    settings.work_dir().mkdir(parents=True, exist_ok=True)
    trainer = Trainer(TrainerContext(settings, store, registry, bus))
    worker = None
    if settings.trainer_worker_enabled:
        worker = await stack.enter_async_context(TrainerWorker(trainer.ctx))

    def register(server: grpc.aio.Server) -> None:
        trainer_pb2_grpc.add_TrainerServiceServicer_to_server(TrainerServicer(trainer), server)

    running = await serve(
        stack,
        settings,
        port=settings.trainer_port,
        metrics_port=settings.trainer_metrics_port,
        register=register,
        service_names=[SERVICE_NAME],
    )
    return TrainerServer(running, trainer, worker)


def quiet_optuna() -> None:
    """Send Optuna's records through the service's logging (one format, one level) instead of
    its own stderr handler, which would print a line per trial."""
    import optuna  # imported here: optuna is slow to import

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    logging.getLogger("optuna").setLevel(logging.WARNING)


async def main(settings: TrainerSettings | None = None) -> None:
    settings = settings or TrainerSettings()
    quiet_optuna()
    await run_service("trainer", settings, lambda stack: build_server(settings, stack))
