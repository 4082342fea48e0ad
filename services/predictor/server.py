"""Assemble and run the predictor: bus, store, registry channel, prediction log, the models the
registry's deployments name, and the gRPC server (Open Inference + admin) with metrics.

``--workers N`` (AIMASS_PREDICTOR_WORKERS) runs N processes that share the port through
SO_REUSEPORT, each with every deployed model loaded: for CPU-bound models one Python process
cannot use more than about one core."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import grpc
from prometheus_client import CollectorRegistry

from aimass.inference.v2 import open_inference_pb2, open_inference_pb2_grpc
from aimass.predictor.v1 import predictor_pb2, predictor_pb2_grpc
from services.common.bus import connect
from services.common.grpc.server import RunningServer, serve
from services.common.lifecycle import default_worker_id, run_service
from services.common.outbox import Caller
from services.common.registry_client import RegistryClient
from services.common.store import ArtifactStore
from services.predictor.config import PredictorSettings
from services.predictor.follower import DeploymentFollower
from services.predictor.metrics import PredictorMetrics
from services.predictor.predlog import PredictionLog
from services.predictor.service import Predictor
from services.predictor.servicer import AdminServicer, InferenceServicer
from services.predictor.serving import ACTOR, ModelRepository

SERVICE_NAMES = [
    open_inference_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name,
    predictor_pb2.DESCRIPTOR.services_by_name["PredictorAdminService"].full_name,
]
WORKER_INDEX_ENV = "AIMASS_PREDICTOR_WORKER_INDEX"


@dataclass
class PredictorServer:
    running: RunningServer
    predictor: Predictor
    repository: ModelRepository


async def build_server(
    settings: PredictorSettings, stack: contextlib.AsyncExitStack
) -> PredictorServer:
    instance = settings.predictor_instance or default_worker_id()
    bus = await connect(settings, name="predictor")
    stack.push_async_callback(bus.close, settings.shutdown_grace_seconds)
    await bus.ensure_streams()
    store = ArtifactStore.from_settings(settings)
    await store.check()
    registry = RegistryClient(settings.registry_address, settings.registry_timeout_seconds)
    stack.push_async_callback(registry.close)
    # The process-wide registry is what /metrics serves; tests build several servers in one
    # process, each on its own registry.
    metrics = PredictorMetrics(None if settings.metrics_enabled else CollectorRegistry())
    log = await stack.enter_async_context(
        PredictionLog(bus, capacity=settings.predictor_log_capacity, instance=instance)
    )
    metrics.track_log(log)
    repository = ModelRepository(
        registry,
        store,
        settings.model_dir(),
        drain_seconds=settings.predictor_drain_seconds,
        projects=frozenset(await _project_ids(registry, settings.predictor_projects)),
        observer_factory=metrics.batch_observer,
        on_load=metrics.observe_load,
        on_unload=metrics.forget,
        on_count=metrics.set_loaded_models,
        on_queue=metrics.set_queue_rows,
    )
    stack.push_async_callback(repository.close)
    predictor = Predictor(repository, log, metrics, instance, _version())

    def register(server: grpc.aio.Server) -> None:
        open_inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            InferenceServicer(predictor), server
        )
        predictor_pb2_grpc.add_PredictorAdminServiceServicer_to_server(
            AdminServicer(predictor), server
        )

    metrics_port = settings.predictor_metrics_port
    index = int(os.environ.get(WORKER_INDEX_ENV, "0"))
    if index and metrics_port is not None:
        metrics_port += index  # each worker process serves its own /metrics
    running = await serve(
        stack,
        settings,
        port=settings.predictor_port,
        metrics_port=metrics_port,
        register=register,
        service_names=SERVICE_NAMES,
        extra_options=(("grpc.so_reuseport", 1 if settings.predictor_workers > 1 else 0),),
    )
    await stack.enter_async_context(
        DeploymentFollower(bus, repository, settings.predictor_resync_seconds)
    )
    return PredictorServer(running, predictor, repository)


async def _project_ids(registry: RegistryClient, projects: list[str]) -> list[str]:
    return [(await registry.project(Caller(ACTOR, name))).id for name in projects]


def _version() -> str:
    try:
        return version("aimass")
    except PackageNotFoundError:
        return "0+unknown"


async def main(settings: PredictorSettings | None = None) -> None:
    settings = settings or PredictorSettings()
    await run_service("predictor", settings, lambda stack: build_server(settings, stack))


def run(argv: list[str] | None = None) -> int:
    """The command line: one process, or ``--workers N`` sharing the port."""
    parser = argparse.ArgumentParser(prog="python -m services.predictor")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the port (default AIMASS_PREDICTOR_WORKERS or 1)",
    )
    args = parser.parse_args(argv)
    if args.workers is not None:
        os.environ["AIMASS_PREDICTOR_WORKERS"] = str(args.workers)
    settings = PredictorSettings()
    if settings.predictor_workers == 1 or WORKER_INDEX_ENV in os.environ:
        asyncio.run(main(settings))
        return 0
    return _supervise(settings.predictor_workers, dict(os.environ))


def _supervise(workers: int, env: dict[str, str]) -> int:
    """Run ``workers`` worker processes; a signal stops them all; one dying stops the rest."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "services.predictor"],
            env={**env, WORKER_INDEX_ENV: str(index)},
        )
        for index in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: object = None) -> None:
        # Once: a second signal would reach a worker already shutting down, after its handler
        # is gone, and kill it mid-drain.
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while children:
        for child in list(children):
            returned = child.poll()
            if returned is None:
                continue
            children.remove(child)
            if not stopping:
                code = returned or 1  # a worker died on its own: stop the others, report it
                stop(signal.SIGTERM)
            elif returned not in (0, -signal.SIGTERM, -signal.SIGINT):
                code = code or returned
        if children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                children[0].wait(timeout=0.5)
    return code if code >= 0 else 128 - code
