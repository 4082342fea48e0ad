"""gRPC transport of the predictor: the Open Inference Protocol (inference.GRPCInferenceService)
and the admin service, on one port. No logic and no exception handling: the shared interceptor
turns the error vocabulary into status codes."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.predictor.v1 import predictor_pb2 as ppb
from aimass.predictor.v1 import predictor_pb2_grpc
from services.predictor.service import Predictor

Context: TypeAlias = grpc.aio.ServicerContext


class InferenceServicer(open_inference_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.p = predictor

    async def ServerLive(self, request: oip.ServerLiveRequest, context: Context) -> Any:
        return oip.ServerLiveResponse(live=True)

    async def ServerReady(self, request: oip.ServerReadyRequest, context: Context) -> Any:
        return oip.ServerReadyResponse(ready=self.p.server_ready())

    async def ModelReady(self, request: oip.ModelReadyRequest, context: Context) -> Any:
        return oip.ModelReadyResponse(ready=self.p.model_ready(request.name, request.version))

    async def ServerMetadata(self, request: oip.ServerMetadataRequest, context: Context) -> Any:
        return self.p.server_metadata()

    async def ModelMetadata(self, request: oip.ModelMetadataRequest, context: Context) -> Any:
        return self.p.model_metadata(request.name, request.version)

    async def ModelInfer(self, request: oip.ModelInferRequest, context: Context) -> Any:
        return await self.p.infer(request, context.time_remaining())


class AdminServicer(predictor_pb2_grpc.PredictorAdminServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.p = predictor

    async def ListLoadedModels(self, request: ppb.ListLoadedModelsRequest, context: Context) -> Any:
        return self.p.loaded_models(request.model)

    async def Reload(self, request: ppb.ReloadRequest, context: Context) -> Any:
        return await self.p.reload()

    async def GetModelStats(self, request: ppb.GetModelStatsRequest, context: Context) -> Any:
        return self.p.model_stats(request.model, request.version)
