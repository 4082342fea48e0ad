"""gRPC transport of the registry: request metadata in, the domain services' messages out.

No logic and no exception handling here: the domain raises the error vocabulary and the shared
interceptor turns it into status codes.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from aimass.registry.v1 import registry_pb2 as pb
from aimass.registry.v1 import registry_pb2_grpc
from services.common.grpc.interceptors import actor_of
from services.registry.core import Caller
from services.registry.registry import Registry

Context: TypeAlias = grpc.aio.ServicerContext


def _caller(request: Any, context: Context) -> Caller:
    return Caller(actor=actor_of(context), project=getattr(request, "project", ""))


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.r = registry

    # Projects
    async def CreateProject(self, request: pb.CreateProjectRequest, context: Context) -> pb.Project:
        return await self.r.projects.create(_caller(request, context), request)

    async def GetProject(self, request: pb.GetProjectRequest, context: Context) -> pb.Project:
        return await self.r.projects.get(request)

    async def ListProjects(self, request: pb.ListProjectsRequest, context: Context) -> Any:
        return await self.r.projects.list(request)

    async def UpdateProject(self, request: pb.UpdateProjectRequest, context: Context) -> Any:
        return await self.r.projects.update(_caller(request, context), request)

    async def DeleteProject(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.projects.delete(_caller(request, context), request)

    async def RestoreProject(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.projects.restore(_caller(request, context), request)

    # Datasets
    async def CreateDataset(self, request: pb.CreateDatasetRequest, context: Context) -> Any:
        return await self.r.datasets.create(_caller(request, context), request)

    async def GetDataset(self, request: pb.GetDatasetRequest, context: Context) -> Any:
        return await self.r.datasets.get(
            _caller(request, context), request.dataset, request.include_deleted
        )

    async def UpdateDataset(self, request: pb.UpdateDatasetRequest, context: Context) -> Any:
        return await self.r.datasets.update(_caller(request, context), request, request.dataset)

    async def SearchDatasets(self, request: pb.SearchRequest, context: Context) -> Any:
        found, token = await self.r.datasets.search(_caller(request, context), request)
        return pb.SearchDatasetsResponse(datasets=found, page={"next_page_token": token})

    async def DeleteDataset(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.datasets.delete(_caller(request, context), request)

    async def RestoreDataset(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.datasets.restore(_caller(request, context), request)

    async def CreateDatasetVersion(
        self, request: pb.CreateDatasetVersionRequest, context: Context
    ) -> Any:
        return await self.r.datasets.create_version(_caller(request, context), request)

    async def GetDatasetVersion(
        self, request: pb.GetDatasetVersionRequest, context: Context
    ) -> Any:
        return await self.r.datasets.get_version(_caller(request, context), request)

    async def ListDatasetVersions(self, request: pb.ListVersionsRequest, context: Context) -> Any:
        return await self.r.datasets.list_versions(_caller(request, context), request)

    async def DeleteDatasetVersion(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.datasets.delete_version(_caller(request, context), request)

    async def RestoreDatasetVersion(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.datasets.restore_version(_caller(request, context), request)

    # Runs
    async def CreateRun(self, request: pb.CreateRunRequest, context: Context) -> Any:
        return await self.r.runs.create(_caller(request, context), request)

    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> Any:
        return await self.r.runs.get(_caller(request, context), request)

    async def SearchRuns(self, request: pb.SearchRequest, context: Context) -> Any:
        return await self.r.runs.search(_caller(request, context), request)

    async def UpdateRunStatus(self, request: pb.UpdateRunStatusRequest, context: Context) -> Any:
        return await self.r.runs.update_status(_caller(request, context), request)

    async def LogParams(self, request: pb.LogParamsRequest, context: Context) -> Any:
        await self.r.runs.log_params(_caller(request, context), request)
        return pb.LogParamsResponse()

    async def LogMetrics(self, request: pb.LogMetricsRequest, context: Context) -> Any:
        accepted = await self.r.runs.log_metrics(_caller(request, context), request)
        return pb.LogMetricsResponse(accepted=accepted)

    async def GetMetricHistory(self, request: pb.GetMetricHistoryRequest, context: Context) -> Any:
        return await self.r.runs.metric_history(_caller(request, context), request)

    async def AddRunArtifacts(self, request: pb.AddRunArtifactsRequest, context: Context) -> Any:
        return await self.r.runs.add_artifacts(_caller(request, context), request)

    async def DeleteRun(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.runs.delete(_caller(request, context), request)

    async def RestoreRun(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.runs.restore(_caller(request, context), request)

    # Models
    async def CreateModel(self, request: pb.CreateModelRequest, context: Context) -> Any:
        return await self.r.models.create(_caller(request, context), request)

    async def GetModel(self, request: pb.GetModelRequest, context: Context) -> Any:
        return await self.r.models.get(
            _caller(request, context), request.model, request.include_deleted
        )

    async def UpdateModel(self, request: pb.UpdateModelRequest, context: Context) -> Any:
        return await self.r.models.update(_caller(request, context), request, request.model)

    async def SearchModels(self, request: pb.SearchRequest, context: Context) -> Any:
        found, token = await self.r.models.search(_caller(request, context), request)
        return pb.SearchModelsResponse(models=found, page={"next_page_token": token})

    async def DeleteModel(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.models.delete(_caller(request, context), request)

    async def RestoreModel(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.models.restore(_caller(request, context), request)

    async def CreateModelVersion(
        self, request: pb.CreateModelVersionRequest, context: Context
    ) -> Any:
        return await self.r.models.create_version(_caller(request, context), request)

    async def GetModelVersion(self, request: pb.GetModelVersionRequest, context: Context) -> Any:
        return await self.r.models.get_version(_caller(request, context), request)

    async def ListModelVersions(self, request: pb.ListVersionsRequest, context: Context) -> Any:
        return await self.r.models.list_versions(_caller(request, context), request)

    async def DeleteModelVersion(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.models.delete_version(_caller(request, context), request)

    async def RestoreModelVersion(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.models.restore_version(_caller(request, context), request)

    async def SetModelAlias(self, request: pb.SetModelAliasRequest, context: Context) -> Any:
        return await self.r.models.set_alias(_caller(request, context), request)

    async def DeleteModelAlias(self, request: pb.DeleteModelAliasRequest, context: Context) -> Any:
        return await self.r.models.delete_alias(_caller(request, context), request)

    async def ListAliasHistory(self, request: pb.ListAliasHistoryRequest, context: Context) -> Any:
        return await self.r.models.alias_history(_caller(request, context), request)

    # Sharing and tags
    async def SetSharing(self, request: pb.SetSharingRequest, context: Context) -> Any:
        return await self.r.set_sharing(_caller(request, context), request.entity, request.sharing)

    async def SetTags(self, request: pb.SetTagsRequest, context: Context) -> Any:
        tags = await self.r.set_tags(
            _caller(request, context), request.entity, dict(request.tags), []
        )
        return pb.SetTagsResponse(tags=tags)

    async def DeleteTags(self, request: pb.DeleteTagsRequest, context: Context) -> Any:
        tags = await self.r.set_tags(
            _caller(request, context), request.entity, {}, list(request.keys)
        )
        return pb.SetTagsResponse(tags=tags)

    # Deployments
    async def CreateDeployment(self, request: pb.CreateDeploymentRequest, context: Context) -> Any:
        return await self.r.deployments.create(_caller(request, context), request)

    async def GetDeployment(self, request: pb.GetDeploymentRequest, context: Context) -> Any:
        return await self.r.deployments.get(_caller(request, context), request)

    async def ListDeployments(self, request: pb.ListDeploymentsRequest, context: Context) -> Any:
        return await self.r.deployments.list(_caller(request, context), request)

    async def UpdateDeployment(self, request: pb.UpdateDeploymentRequest, context: Context) -> Any:
        return await self.r.deployments.update(_caller(request, context), request)

    async def RollbackDeployment(
        self, request: pb.RollbackDeploymentRequest, context: Context
    ) -> Any:
        return await self.r.deployments.rollback(_caller(request, context), request)

    async def ListDeploymentRevisions(
        self, request: pb.ListDeploymentRevisionsRequest, context: Context
    ) -> Any:
        return await self.r.deployments.revisions(_caller(request, context), request)

    async def UpdateDeploymentStatus(
        self, request: pb.UpdateDeploymentStatusRequest, context: Context
    ) -> Any:
        return await self.r.deployments.update_status(_caller(request, context), request)

    async def DeleteDeployment(self, request: pb.DeleteRequest, context: Context) -> Any:
        return await self.r.deployments.delete(_caller(request, context), request)

    async def RestoreDeployment(self, request: pb.RestoreRequest, context: Context) -> Any:
        return await self.r.deployments.restore(_caller(request, context), request)

    # Lineage and garbage collection
    async def AddLineageEdges(self, request: pb.AddLineageEdgesRequest, context: Context) -> Any:
        added = await self.r.lineage.add(_caller(request, context), request)
        return pb.AddLineageEdgesResponse(added=added)

    async def GetLineage(self, request: pb.GetLineageRequest, context: Context) -> Any:
        return await self.r.lineage.get(_caller(request, context), request)

    async def CollectGarbage(self, request: pb.CollectGarbageRequest, context: Context) -> Any:
        return await self.r.gc.collect(_caller(request, context), request)
