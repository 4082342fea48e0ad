"""Build and run a grpc.aio server the same way in every service.

Health (grpc.health.v1, from grpcio-health-checking), reflection, the error/metrics interceptor,
message-size limits, and a graceful stop: NOT_SERVING first so load balancers drain, then
``server.stop(grace)`` so in-flight calls finish.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.grpc.interceptors import ErrorMappingInterceptor
from services.common.metrics import start_metrics_server
from services.common.settings import CommonSettings, metrics_port_for

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024

SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    # A second server on a taken port must fail, not silently share it (the predictor opts in).
    ("grpc.so_reuseport", 0),
)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    service_names: tuple[str, ...]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)
        logger.info("gRPC server on port %d stopped", self.port)


async def start_grpc_server(
    stack: contextlib.AsyncExitStack,
    *,
    host: str,
    port: int,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    grace_seconds: float,
    extra_options: Sequence[tuple[str, int]] = (),
) -> RunningServer:
    """Start a server with health and reflection; the stack stops it gracefully on exit.

    ``register`` adds the service's own servicers; ``service_names`` are their full names
    (``DESCRIPTOR.services_by_name[...].full_name``) for health and reflection.
    """
    server = grpc.aio.server(
        interceptors=(ErrorMappingInterceptor(),),
        # extra options replace defaults of the same name (gRPC would keep the first one)
        options=tuple({**dict(SERVER_OPTIONS), **dict(extra_options)}.items()),
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}: is another process using the port?")
    await server.start()
    running = RunningServer(server, health_servicer, bound, tuple(service_names))
    stack.push_async_callback(running.stop, grace_seconds)
    await running.set_serving(True)
    logger.info("gRPC server listening on %s:%d", host, bound)
    return running


async def serve(
    stack: contextlib.AsyncExitStack,
    settings: CommonSettings,
    *,
    port: int,
    metrics_port: int | None,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    extra_options: Sequence[tuple[str, int]] = (),
) -> RunningServer:
    """A service's network face: Prometheus metrics (gRPC port + 1000 unless ``metrics_port``)
    when enabled, then the gRPC server with health and reflection."""
    if settings.metrics_enabled:
        chosen = metrics_port if metrics_port is not None else metrics_port_for(port)
        start_metrics_server(stack, settings.grpc_host, chosen)
    return await start_grpc_server(
        stack,
        host=settings.grpc_host,
        port=port,
        register=register,
        service_names=service_names,
        grace_seconds=settings.shutdown_grace_seconds,
        extra_options=extra_options,
    )
