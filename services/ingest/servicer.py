"""gRPC transport of ingest: request metadata in, the domain's messages out.

No logic and no exception handling here: the domain raises the error vocabulary and the shared
interceptor turns it into status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.ingest.v1 import ingest_pb2_grpc
from services.common.grpc.interceptors import actor_of
from services.ingest.core import Caller
from services.ingest.service import Ingest

Context: TypeAlias = grpc.aio.ServicerContext


def _caller(request: Any, context: Context) -> Caller:
    return Caller(actor=actor_of(context), project=getattr(request, "project", ""))


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, ingest: Ingest) -> None:
        self.i = ingest

    async def UploadFile(
        self, request_iterator: AsyncIterator[pb.UploadFileRequest], context: Context
    ) -> pb.Upload:
        return await self.i.uploads.upload(actor_of(context), request_iterator)

    async def CreateSource(self, request: pb.CreateSourceRequest, context: Context) -> Any:
        return await self.i.sources.create(_caller(request, context), request)

    async def GetSource(self, request: pb.GetSourceRequest, context: Context) -> Any:
        return await self.i.sources.get(_caller(request, context), request)

    async def ListSources(self, request: pb.ListSourcesRequest, context: Context) -> Any:
        return await self.i.sources.list(_caller(request, context), request)

    async def DeleteSource(self, request: pb.DeleteSourceRequest, context: Context) -> Any:
        await self.i.sources.delete(_caller(request, context), request)
        return pb.DeleteSourceResponse()

    async def PreviewIngest(self, request: pb.PreviewIngestRequest, context: Context) -> Any:
        return await self.i.previews.preview_ingest(_caller(request, context), request)

    async def CreateIngestJob(self, request: pb.CreateIngestJobRequest, context: Context) -> Any:
        return await self.i.jobs.create(_caller(request, context), request)

    async def GetIngestJob(self, request: pb.GetIngestJobRequest, context: Context) -> Any:
        return await self.i.jobs.get(_caller(request, context), request)

    async def ListIngestJobs(self, request: pb.ListIngestJobsRequest, context: Context) -> Any:
        return await self.i.jobs.list(_caller(request, context), request)

    async def CancelIngestJob(self, request: pb.CancelIngestJobRequest, context: Context) -> Any:
        return await self.i.jobs.cancel(_caller(request, context), request)

    async def WatchIngestJob(
        self, request: pb.WatchIngestJobRequest, context: Context
    ) -> AsyncIterator[pb.IngestJob]:
        async for job in self.i.jobs.watch(_caller(request, context), request):
            yield job

    async def PreviewDatasetVersion(
        self, request: pb.PreviewDatasetVersionRequest, context: Context
    ) -> Any:
        return await self.i.previews.preview_dataset_version(_caller(request, context), request)
