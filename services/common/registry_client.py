"""The registry, as the other services call it: aimass.registry.v1 over one channel, the actor
forwarded in x-aimass-actor, gRPC failures turned back into the error vocabulary."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.registry.v1 import registry_pb2_grpc
from services.common import errors
from services.common.grpc.client import create_channel
from services.common.logs import ACTOR_HEADER
from services.common.outbox import Caller

T = TypeVar("T")
PROJECT_CACHE_SECONDS = 30.0
MAX_POINTS_PER_CALL = 10_000

_ERRORS: dict[grpc.StatusCode, type[errors.AimassError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.ABORTED: errors.Aborted,
}


def _translate(exc: grpc.aio.AioRpcError) -> errors.AimassError:
    kind = _ERRORS.get(exc.code())
    if kind is not None:
        return kind(exc.details() or exc.code().name)
    return errors.Unavailable(f"the registry did not answer ({exc.code().name}): {exc.details()}")


class RegistryClient:
    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.channel = create_channel(address, default_timeout=timeout)
        self.stub = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self._projects: dict[str, tuple[float, rpb.Project]] = {}

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any, caller: Caller) -> T:
        try:
            return await method(request, metadata=((ACTOR_HEADER, caller.actor),))
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from None

    async def project(self, caller: Caller) -> rpb.Project:
        """The acting project (by name or id); NotFound if it does not exist."""
        if not caller.project:
            raise errors.InvalidArgument("project is required: name the project you act in")
        cached = self._projects.get(caller.project)
        if cached is not None and time.monotonic() - cached[0] < PROJECT_CACHE_SECONDS:
            return cached[1]
        project = await self._call(
            self.stub.GetProject, rpb.GetProjectRequest(project=caller.project), caller
        )
        self._projects[caller.project] = (time.monotonic(), project)
        return project

    async def dataset(self, caller: Caller, ref: str) -> rpb.Dataset | None:
        request = rpb.GetDatasetRequest(project=caller.project, dataset=ref)
        try:
            return await self._call(self.stub.GetDataset, request, caller)
        except errors.NotFound:
            return None

    async def ensure_dataset(
        self, caller: Caller, name: str, description: str, sharing: common_pb2.Sharing | None
    ) -> rpb.Dataset:
        """The dataset named ``name`` in the project, created (and shared) when missing."""
        existing = await self.dataset(caller, name)
        if existing is not None:
            return existing
        request = rpb.CreateDatasetRequest(
            project=caller.project, name=name, description=description
        )
        try:
            created = await self._call(self.stub.CreateDataset, request, caller)
        except errors.AlreadyExists:
            found = await self.dataset(caller, name)
            if found is None:
                raise
            return found
        if sharing is not None and sharing.visibility != common_pb2.VISIBILITY_UNSPECIFIED:
            entity = common_pb2.EntityRef(kind=common_pb2.ENTITY_KIND_DATASET, id=created.id)
            await self._call(
                self.stub.SetSharing,
                rpb.SetSharingRequest(project=caller.project, entity=entity, sharing=sharing),
                caller,
            )
        return created

    async def dataset_version(
        self, caller: Caller, version_id: str = "", dataset: str = "", version: int = 0
    ) -> rpb.DatasetVersion:
        request = rpb.GetDatasetVersionRequest(
            project=caller.project, id=version_id, dataset=dataset, version=version
        )
        return await self._call(self.stub.GetDatasetVersion, request, caller)

    async def versions(self, caller: Caller, dataset: str) -> list[rpb.DatasetVersion]:
        """The newest versions (one page) of a dataset of the acting project."""
        request = rpb.ListVersionsRequest(project=caller.project, parent=dataset)
        found = await self._call(self.stub.ListDatasetVersions, request, caller)
        return list(found.versions)

    async def create_dataset_version(
        self, caller: Caller, request: rpb.CreateDatasetVersionRequest
    ) -> rpb.DatasetVersion:
        return await self._call(self.stub.CreateDatasetVersion, request, caller)

    async def create_run(self, caller: Caller, request: rpb.CreateRunRequest) -> rpb.Run:
        return await self._call(self.stub.CreateRun, request, caller)

    async def run(self, caller: Caller, run_id: str) -> rpb.Run:
        request = rpb.GetRunRequest(project=caller.project, id=run_id)
        return await self._call(self.stub.GetRun, request, caller)

    async def update_run(
        self,
        caller: Caller,
        run_id: str,
        status: rpb.RunStatus,
        reason: str = "",
        attempt: int = 0,
        worker: str = "",
    ) -> rpb.Run:
        request = rpb.UpdateRunStatusRequest(
            project=caller.project,
            id=run_id,
            status=status,
            reason=reason[:10_000],
            attempt=attempt,
            worker=worker[:256],
        )
        return await self._call(self.stub.UpdateRunStatus, request, caller)

    async def log_params(self, caller: Caller, run_id: str, params: dict[str, str]) -> None:
        request = rpb.LogParamsRequest(project=caller.project, run_id=run_id, params=params)
        await self._call(self.stub.LogParams, request, caller)

    async def log_metrics(self, caller: Caller, run_id: str, points: list[rpb.MetricPoint]) -> None:
        for start in range(0, len(points), MAX_POINTS_PER_CALL):
            request = rpb.LogMetricsRequest(
                project=caller.project,
                run_id=run_id,
                points=points[start : start + MAX_POINTS_PER_CALL],
            )
            await self._call(self.stub.LogMetrics, request, caller)

    async def add_run_artifacts(
        self, caller: Caller, run_id: str, artifacts: list[rpb.RunArtifact]
    ) -> rpb.Run:
        request = rpb.AddRunArtifactsRequest(
            project=caller.project, run_id=run_id, artifacts=artifacts
        )
        return await self._call(self.stub.AddRunArtifacts, request, caller)

    async def search_runs(
        self, caller: Caller, request: rpb.SearchRequest
    ) -> rpb.SearchRunsResponse:
        return await self._call(self.stub.SearchRuns, request, caller)

    async def create_model_version(
        self, caller: Caller, request: rpb.CreateModelVersionRequest
    ) -> rpb.ModelVersion:
        return await self._call(self.stub.CreateModelVersion, request, caller)

    async def model_version(
        self, caller: Caller, version_id: str = "", model: str = "", version: int = 0
    ) -> rpb.ModelVersion:
        request = rpb.GetModelVersionRequest(
            project=caller.project, id=version_id, model=model, version=version
        )
        return await self._call(self.stub.GetModelVersion, request, caller)

    async def set_model_alias(
        self, caller: Caller, model: str, alias: str, version: int
    ) -> rpb.Model:
        request = rpb.SetModelAliasRequest(
            project=caller.project, model=model, alias=alias, version=version
        )
        return await self._call(self.stub.SetModelAlias, request, caller)

    async def deployments(self, caller: Caller) -> list[rpb.Deployment]:
        """Every live deployment of the caller's project, or of every project when it names none
        (what a predictor serves)."""
        found: list[rpb.Deployment] = []
        token = ""
        while True:
            request = rpb.ListDeploymentsRequest(project=caller.project)
            request.page.page_token = token
            request.page.page_size = 500
            response = await self._call(self.stub.ListDeployments, request, caller)
            found.extend(response.deployments)
            token = response.page.next_page_token
            if not token:
                return found
