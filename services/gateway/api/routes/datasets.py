"""/api/v1/projects/{project}/datasets: datasets, their versions and previews, sharing, and the
catalog of datasets a project may read. New versions come from ingest jobs (``ingest.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from aimass.common.v1 import common_pb2 as cpb
from aimass.ingest.v1 import ingest_pb2 as ipb
from aimass.registry.v1 import registry_pb2 as rpb
from services.gateway.api.deps import (
    BackendsDep,
    DataWritePrincipal,
    ProjectPath,
    ReadPrincipal,
    metadata,
)
from services.gateway.api.rest import PageQuery, implied_mask
from services.gateway.protojson import body_schema, parse_body, render, response_schema

router = APIRouter(prefix="/api/v1", tags=["datasets"])

DATASETS = "/projects/{project}/datasets"
DATASET = DATASETS + "/{dataset}"
VERSION = DATASET + "/versions/{version}"
UPDATE_MASK = {"description": "description", "owner": "owner"}
DatasetPath = Annotated[str, Path(description="Dataset name or id.", min_length=1, max_length=128)]
VersionPath = Annotated[int, Path(ge=0, description="Version number; 0: the latest.")]
NameContains = Annotated[str, Query(max_length=128, description="Part of the name.")]
IncludeDeleted = Annotated[bool, Query(description="Also soft-deleted ones.")]


def _search(
    project: str, page: cpb.PageRequest, name_contains: str, include_shared: bool
) -> rpb.SearchRequest:
    search = rpb.SearchRequest(project=project, page=page, include_shared=include_shared)
    if name_contains:
        search.filters.add(field="name", op=cpb.Filter.OPERATOR_CONTAINS, values=[name_contains])
    return search


@router.get(
    DATASETS, summary="List datasets", responses=response_schema(rpb.SearchDatasetsResponse)
)
async def list_datasets(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    name_contains: NameContains = "",
    include_shared: Annotated[bool, Query(description="Also datasets shared with it.")] = False,
) -> JSONResponse:
    principal.check_project(project)
    search = _search(project, page, name_contains, include_shared)
    return render(await backends.registry.SearchDatasets(search, metadata=metadata(principal)))


@router.post(
    DATASETS + "/search",
    summary="Search datasets with structured filters",
    description="Filter fields: name, owner, description, created_at, updated_at, visibility, "
    "project (the owner's name), latest_version, tags.<key>.",
    openapi_extra=body_schema(rpb.SearchRequest),
    responses=response_schema(rpb.SearchDatasetsResponse),
)
async def search_datasets(
    project: ProjectPath, request: Request, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    search = await parse_body(request, rpb.SearchRequest, fixed={"project": project})
    return render(await backends.registry.SearchDatasets(search, metadata=metadata(principal)))


@router.get(
    "/projects/{project}/catalog",
    summary="The catalog: datasets this project may read (its own, shared with it, public)",
    responses=response_schema(rpb.SearchDatasetsResponse),
)
async def catalog(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    name_contains: NameContains = "",
    owner_project: Annotated[str, Query(max_length=128, description="Owner's name.")] = "",
) -> JSONResponse:
    principal.check_project(project)
    search = _search(project, page, name_contains, include_shared=True)
    if owner_project:
        search.filters.add(field="project", op=cpb.Filter.OPERATOR_EQ, values=[owner_project])
    return render(await backends.registry.SearchDatasets(search, metadata=metadata(principal)))


@router.post(
    DATASETS,
    status_code=201,
    summary="Create a dataset (empty; ingest jobs add versions)",
    openapi_extra=body_schema(rpb.CreateDatasetRequest),
    responses=response_schema(rpb.Dataset, 201),
)
async def create_dataset(
    project: ProjectPath, request: Request, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    create = await parse_body(request, rpb.CreateDatasetRequest, fixed={"project": project})
    return render(await backends.registry.CreateDataset(create, metadata=metadata(principal)), 201)


@router.get(DATASET, summary="One dataset", responses=response_schema(rpb.Dataset))
async def get_dataset(
    project: ProjectPath,
    dataset: DatasetPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: IncludeDeleted = False,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetDatasetRequest(project=project, dataset=dataset, include_deleted=include_deleted)
    return render(await backends.registry.GetDataset(get, metadata=metadata(principal)))


@router.patch(
    DATASET,
    summary="Change a dataset's description or owner",
    description="Without `update_mask`, the fields the body sets change.",
    openapi_extra=body_schema(rpb.UpdateDatasetRequest, exclude=("project", "dataset")),
    responses=response_schema(rpb.Dataset),
)
async def update_dataset(
    project: ProjectPath,
    dataset: DatasetPath,
    request: Request,
    principal: DataWritePrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "dataset": dataset}
    update = await parse_body(request, rpb.UpdateDatasetRequest, fixed=fixed)
    if not update.update_mask:
        update.update_mask.extend(implied_mask(update, UPDATE_MASK))
    return render(await backends.registry.UpdateDataset(update, metadata=metadata(principal)))


@router.delete(
    DATASET, summary="Delete a dataset (soft)", responses=response_schema(rpb.DeleteResponse)
)
async def delete_dataset(
    project: ProjectPath, dataset: DatasetPath, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    delete = rpb.DeleteRequest(project=project, id=dataset)
    return render(await backends.registry.DeleteDataset(delete, metadata=metadata(principal)))


@router.post(
    DATASET + "/restore",
    summary="Bring back a deleted dataset",
    responses=response_schema(rpb.Dataset),
)
async def restore_dataset(
    project: ProjectPath, dataset: DatasetPath, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    restore = rpb.RestoreRequest(project=project, id=dataset)
    return render(await backends.registry.RestoreDataset(restore, metadata=metadata(principal)))


@router.put(
    DATASET + "/sharing",
    summary="Share a dataset: PRIVATE, SHARED with named projects, or PUBLIC",
    openapi_extra=body_schema(cpb.Sharing, exclude=()),
    responses=response_schema(cpb.Sharing),
)
async def set_sharing(
    project: ProjectPath,
    dataset: DatasetPath,
    request: Request,
    principal: DataWritePrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    sharing = await parse_body(request, cpb.Sharing)
    entity = cpb.EntityRef(kind=cpb.ENTITY_KIND_DATASET, id=dataset)
    change = rpb.SetSharingRequest(project=project, entity=entity, sharing=sharing)
    return render(await backends.registry.SetSharing(change, metadata=metadata(principal)))


@router.get(
    DATASET + "/versions",
    summary="A dataset's versions, newest first",
    responses=response_schema(rpb.ListDatasetVersionsResponse),
)
async def list_versions(
    project: ProjectPath,
    dataset: DatasetPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    include_deleted: IncludeDeleted = False,
) -> JSONResponse:
    principal.check_project(project)
    listing = rpb.ListVersionsRequest(
        project=project, parent=dataset, page=page, include_deleted=include_deleted
    )
    versions = await backends.registry.ListDatasetVersions(listing, metadata=metadata(principal))
    return render(versions)


@router.get(
    VERSION,
    summary="One version: schema, statistics, splits, sources, recipe",
    responses=response_schema(rpb.DatasetVersion),
)
async def get_version(
    project: ProjectPath,
    dataset: DatasetPath,
    version: VersionPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetDatasetVersionRequest(project=project, dataset=dataset, version=version)
    return render(await backends.registry.GetDatasetVersion(get, metadata=metadata(principal)))


@router.get(
    VERSION + "/preview",
    summary="The first rows of a version (optionally one split and some columns)",
    description="Rows are lists of values in schema order; int64 beyond 2^53 and decimals as "
    "text, dates and timestamps as ISO 8601, bytes as base64.",
    responses=response_schema(ipb.PreviewDatasetVersionResponse),
)
async def preview_version(
    project: ProjectPath,
    dataset: DatasetPath,
    version: VersionPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    split: Annotated[str, Query(max_length=128, description="Empty: any split.")] = "",
    columns: Annotated[list[str] | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=0, le=1000, description="0: 50.")] = 0,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetDatasetVersionRequest(project=project, dataset=dataset, version=version)
    found = await backends.registry.GetDatasetVersion(get, metadata=metadata(principal))
    preview = ipb.PreviewDatasetVersionRequest(
        project=project,
        dataset_version_id=found.id,
        split=split,
        columns=columns or [],
        limit=limit,
    )
    rows = await backends.ingest.PreviewDatasetVersion(preview, metadata=metadata(principal))
    return render(rows)
