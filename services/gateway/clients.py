"""Channels to the backends, opened once in the app's lifespan; the predictor's are pooled."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import grpc

from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.ingest.v1 import ingest_pb2_grpc
from aimass.monitor.v1 import monitor_pb2_grpc
from aimass.predictor.v1 import predictor_pb2_grpc
from aimass.registry.v1 import registry_pb2_grpc
from aimass.trainer.v1 import trainer_pb2_grpc
from services.common.grpc.client import create_channel
from services.gateway.config import GatewaySettings
from services.gateway.predict_coalesce import Coalescer


@dataclass
class Backends:
    registry: registry_pb2_grpc.RegistryServiceStub
    ingest: ingest_pb2_grpc.IngestServiceStub
    trainer: trainer_pb2_grpc.TrainerServiceStub
    monitor: monitor_pb2_grpc.MonitorServiceStub
    inference_pool: list[open_inference_pb2_grpc.GRPCInferenceServiceStub]
    # The predictor's admin service, for what OIP does not say (which version an alias names).
    predictor_admin: predictor_pb2_grpc.PredictorAdminServiceStub
    # The pool's channels set no deadline of their own: every call passes this one.
    predict_timeout: float
    channels: list[grpc.aio.Channel] = field(default_factory=list)
    # Concurrent predictions of one deployment go to the predictor together.
    coalescer: Coalescer = field(default_factory=Coalescer)
    _next: itertools.cycle[int] = field(init=False)

    def __post_init__(self) -> None:
        self._next = itertools.cycle(range(len(self.inference_pool)))

    @property
    def inference(self) -> open_inference_pb2_grpc.GRPCInferenceServiceStub:
        """One of the pooled predictor channels, round robin (HTTP/2 streams of one channel
        share one connection and one completion path; a few spread the load)."""
        return self.inference_pool[next(self._next)]

    async def ready(self, timeout: float = 0.5) -> dict[str, bool]:
        """Which backends have a connected channel, waiting up to ``timeout``; never raises."""
        names = ("registry", "ingest", "trainer", "predictor", "monitor")

        async def connected(channel: grpc.aio.Channel) -> bool:
            try:
                await asyncio.wait_for(channel.channel_ready(), timeout)
            except TimeoutError:
                return False
            return True

        states = await asyncio.gather(*(connected(c) for c in self.channels[: len(names)]))
        return dict(zip(names, states, strict=False))

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def open_backends(settings: GatewaySettings) -> Backends:
    timeout = settings.gateway_backend_timeout_seconds
    registry = create_channel(settings.registry_address, default_timeout=timeout)
    ingest = create_channel(settings.ingest_address, default_timeout=timeout)
    trainer = create_channel(settings.trainer_address, default_timeout=timeout)
    monitor = create_channel(settings.monitor_address, default_timeout=timeout)
    predictors = [
        create_channel(
            settings.predictor_address,
            # distinct channel args keep gRPC from sharing one subchannel between the pool
            options=(("grpc.channel_pool_index", index),),
            # an interceptor costs an extra task per call on the hot path; callers pass the
            # deadline and the request id themselves
            intercepted=False,
        )
        for index in range(settings.gateway_predictor_channels)
    ]
    return Backends(
        registry=registry_pb2_grpc.RegistryServiceStub(registry),
        ingest=ingest_pb2_grpc.IngestServiceStub(ingest),
        trainer=trainer_pb2_grpc.TrainerServiceStub(trainer),
        monitor=monitor_pb2_grpc.MonitorServiceStub(monitor),
        inference_pool=[open_inference_pb2_grpc.GRPCInferenceServiceStub(c) for c in predictors],
        predictor_admin=predictor_pb2_grpc.PredictorAdminServiceStub(predictors[0]),
        predict_timeout=settings.gateway_predict_timeout_seconds,
        channels=[registry, ingest, trainer, predictors[0], monitor, *predictors[1:]],
        coalescer=Coalescer(
            settings.gateway_coalesce_max_rows, settings.gateway_coalesce_in_flight
        ),
    )
