"""/api/v1/projects/{project}/models: registered models, their versions and aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import InvalidArgument
from services.gateway.api.deps import (
    BackendsDep,
    DeployPrincipal,
    ProjectPath,
    ReadPrincipal,
    TrainPrincipal,
    metadata,
)
from services.gateway.api.rest import PageQuery, implied_mask
from services.gateway.protojson import body_schema, parse_body, render, response_schema

router = APIRouter(prefix="/api/v1", tags=["models"])

MODELS = "/projects/{project}/models"
MODEL = MODELS + "/{model}"
ModelPath = Annotated[str, Path(description="Model name or id.", min_length=1, max_length=128)]
AliasPath = Annotated[str, Path(description="Alias name, e.g. production.", max_length=128)]
UPDATE_MASK = {"description": "description", "owner": "owner"}


@router.get(MODELS, summary="List models", responses=response_schema(rpb.SearchModelsResponse))
async def list_models(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    name_contains: Annotated[str, Query(max_length=128)] = "",
    include_shared: Annotated[bool, Query(description="Also models shared with it.")] = False,
) -> JSONResponse:
    principal.check_project(project)
    search = rpb.SearchRequest(project=project, page=page, include_shared=include_shared)
    if name_contains:
        search.filters.add(field="name", op=cpb.Filter.OPERATOR_CONTAINS, values=[name_contains])
    found = await backends.registry.SearchModels(search, metadata=metadata(principal))
    return render(found)


@router.post(
    MODELS + "/search",
    summary="Search models with structured filters",
    openapi_extra=body_schema(rpb.SearchRequest, required=False),
    responses=response_schema(rpb.SearchModelsResponse),
)
async def search_models(
    project: ProjectPath, request: Request, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    search = await parse_body(request, rpb.SearchRequest, fixed={"project": project})
    return render(await backends.registry.SearchModels(search, metadata=metadata(principal)))


@router.post(
    MODELS,
    status_code=201,
    summary="Create a model (training jobs create theirs)",
    openapi_extra=body_schema(rpb.CreateModelRequest),
    responses=response_schema(rpb.Model, 201),
)
async def create_model(
    project: ProjectPath, request: Request, principal: TrainPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    create = await parse_body(request, rpb.CreateModelRequest, fixed={"project": project})
    model = await backends.registry.CreateModel(create, metadata=metadata(principal))
    return render(model, 201)


@router.get(MODEL, summary="One model with its aliases", responses=response_schema(rpb.Model))
async def get_model(
    project: ProjectPath,
    model: ModelPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetModelRequest(project=project, model=model, include_deleted=include_deleted)
    return render(await backends.registry.GetModel(get, metadata=metadata(principal)))


@router.patch(
    MODEL,
    summary="Change a model's description or owner",
    description="Without `update_mask`, the fields the body sets change.",
    openapi_extra=body_schema(rpb.UpdateModelRequest, exclude=("project", "model")),
    responses=response_schema(rpb.Model),
)
async def update_model(
    project: ProjectPath,
    model: ModelPath,
    request: Request,
    principal: TrainPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "model": model}
    update = await parse_body(request, rpb.UpdateModelRequest, fixed=fixed)
    if not update.update_mask:
        update.update_mask.extend(implied_mask(update, UPDATE_MASK))
    return render(await backends.registry.UpdateModel(update, metadata=metadata(principal)))


@router.delete(
    MODEL,
    summary="Delete a model (soft; refused while deployed)",
    responses=response_schema(rpb.DeleteResponse),
)
async def delete_model(
    project: ProjectPath, model: ModelPath, principal: TrainPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    delete = rpb.DeleteRequest(project=project, id=model)
    return render(await backends.registry.DeleteModel(delete, metadata=metadata(principal)))


@router.get(
    MODEL + "/versions",
    summary="A model's versions",
    responses=response_schema(rpb.ListModelVersionsResponse),
)
async def list_versions(
    project: ProjectPath,
    model: ModelPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    listing = rpb.ListVersionsRequest(
        project=project, parent=model, page=page, include_deleted=include_deleted
    )
    found = await backends.registry.ListModelVersions(listing, metadata=metadata(principal))
    return render(found)


@router.post(
    MODEL + "/versions",
    status_code=201,
    summary="Register a model version made outside the trainer",
    openapi_extra=body_schema(rpb.CreateModelVersionRequest, exclude=("project", "model")),
    responses=response_schema(rpb.ModelVersion, 201),
)
async def create_version(
    project: ProjectPath,
    model: ModelPath,
    request: Request,
    principal: TrainPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "model": model}
    create = await parse_body(request, rpb.CreateModelVersionRequest, fixed=fixed)
    version = await backends.registry.CreateModelVersion(create, metadata=metadata(principal))
    return render(version, 201)


@router.get(
    MODEL + "/versions/{version}",
    summary="One model version (0: the latest)",
    responses=response_schema(rpb.ModelVersion),
)
async def get_version(
    project: ProjectPath,
    model: ModelPath,
    version: Annotated[str, Path(description="Version number; 0: the latest.", max_length=20)],
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    if not (version.isascii() and version.isdigit()):
        raise InvalidArgument(f"version {version!r} is not a version number (1, 2, ...; 0: latest)")
    get = rpb.GetModelVersionRequest(
        project=project, model=model, version=int(version), include_deleted=include_deleted
    )
    return render(await backends.registry.GetModelVersion(get, metadata=metadata(principal)))


@router.put(
    MODEL + "/aliases/{alias}",
    summary="Point an alias at a version (deployments following it move too)",
    openapi_extra=body_schema(rpb.SetModelAliasRequest, exclude=("project", "model", "alias")),
    responses=response_schema(rpb.Model),
)
async def set_alias(
    project: ProjectPath,
    model: ModelPath,
    alias: AliasPath,
    request: Request,
    principal: DeployPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "model": model, "alias": alias}
    moved = await parse_body(request, rpb.SetModelAliasRequest, fixed=fixed)
    return render(await backends.registry.SetModelAlias(moved, metadata=metadata(principal)))


@router.delete(
    MODEL + "/aliases/{alias}", summary="Remove an alias", responses=response_schema(rpb.Model)
)
async def delete_alias(
    project: ProjectPath,
    model: ModelPath,
    alias: AliasPath,
    principal: DeployPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    delete = rpb.DeleteModelAliasRequest(project=project, model=model, alias=alias)
    return render(await backends.registry.DeleteModelAlias(delete, metadata=metadata(principal)))


@router.get(
    MODEL + "/aliases/{alias}/history",
    summary="Every move of an alias, with actor and time",
    responses=response_schema(rpb.ListAliasHistoryResponse),
)
async def alias_history(
    project: ProjectPath,
    model: ModelPath,
    alias: AliasPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
) -> JSONResponse:
    principal.check_project(project)
    listing = rpb.ListAliasHistoryRequest(project=project, model=model, alias=alias, page=page)
    moves = await backends.registry.ListAliasHistory(listing, metadata=metadata(principal))
    return render(moves)
