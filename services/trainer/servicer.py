"""gRPC transport of the trainer: request metadata in, the domain's messages out. No logic and no
exception handling: the shared interceptor turns the error vocabulary into status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from aimass.trainer.v1 import trainer_pb2 as tpb
from aimass.trainer.v1 import trainer_pb2_grpc
from services.common.grpc.interceptors import actor_of
from services.common.outbox import Caller
from services.trainer.service import Trainer

Context: TypeAlias = grpc.aio.ServicerContext


def _caller(request: Any, context: Context) -> Caller:
    return Caller(actor=actor_of(context), project=getattr(request, "project", ""))


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer

    async def Submit(self, request: tpb.SubmitRequest, context: Context) -> Any:
        return await self.t.submit(_caller(request, context), request)

    async def Cancel(self, request: tpb.CancelRequest, context: Context) -> Any:
        return await self.t.cancel(_caller(request, context), request)

    async def WatchRun(
        self, request: tpb.WatchRunRequest, context: Context
    ) -> AsyncIterator[tpb.RunProgress]:
        async for progress in self.t.watch(_caller(request, context), request):
            yield progress

    async def ListAlgorithms(self, request: tpb.ListAlgorithmsRequest, context: Context) -> Any:
        return self.t.list_algorithms(request)

    async def GetAlgorithm(self, request: tpb.GetAlgorithmRequest, context: Context) -> Any:
        return self.t.get_algorithm(request)
