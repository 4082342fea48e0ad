"""/api/v1/projects/{project}/deployments: what the predictors serve, with revisions and rollback.

Prediction on a deployment (``.../deployments/{deployment}/predict``) lives in ``rows.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from aimass.registry.v1 import registry_pb2 as rpb
from services.gateway.api.deps import (
    BackendsDep,
    DeployPrincipal,
    ProjectPath,
    ReadPrincipal,
    metadata,
)
from services.gateway.api.rest import PageQuery, implied_mask
from services.gateway.protojson import body_schema, parse_body, render, response_schema

router = APIRouter(prefix="/api/v1", tags=["deployments"])

DEPLOYMENTS = "/projects/{project}/deployments"
DEPLOYMENT = DEPLOYMENTS + "/{deployment}"
DeploymentPath = Annotated[
    str, Path(description="Deployment name or id.", min_length=1, max_length=128)
]
UPDATE_MASK = {"version": "target", "alias": "target", "config": "config"}


@router.post(
    DEPLOYMENTS,
    status_code=201,
    summary="Serve a model at a pinned version or following an alias",
    openapi_extra=body_schema(rpb.CreateDeploymentRequest),
    responses=response_schema(rpb.Deployment, 201),
)
async def create_deployment(
    project: ProjectPath, request: Request, principal: DeployPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    create = await parse_body(request, rpb.CreateDeploymentRequest, fixed={"project": project})
    deployment = await backends.registry.CreateDeployment(create, metadata=metadata(principal))
    return render(deployment, 201)


@router.get(
    DEPLOYMENTS,
    summary="The project's deployments",
    responses=response_schema(rpb.ListDeploymentsResponse),
)
async def list_deployments(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    model: Annotated[str, Query(max_length=128, description="Only this model's.")] = "",
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    listing = rpb.ListDeploymentsRequest(
        project=project, page=page, model=model, include_deleted=include_deleted
    )
    found = await backends.registry.ListDeployments(listing, metadata=metadata(principal))
    return render(found)


@router.get(DEPLOYMENT, summary="One deployment", responses=response_schema(rpb.Deployment))
async def get_deployment(
    project: ProjectPath,
    deployment: DeploymentPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetDeploymentRequest(
        project=project, deployment=deployment, include_deleted=include_deleted
    )
    return render(await backends.registry.GetDeployment(get, metadata=metadata(principal)))


@router.patch(
    DEPLOYMENT,
    summary="Move the target (version or alias) and/or replace the serving config",
    description="Each change is a new revision. Without `update_mask`, the body's `version` or "
    "`alias` imply `target` and its `config` implies `config`.",
    openapi_extra=body_schema(rpb.UpdateDeploymentRequest, exclude=("project", "deployment")),
    responses=response_schema(rpb.Deployment),
)
async def update_deployment(
    project: ProjectPath,
    deployment: DeploymentPath,
    request: Request,
    principal: DeployPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "deployment": deployment}
    update = await parse_body(request, rpb.UpdateDeploymentRequest, fixed=fixed)
    if not update.update_mask:
        update.update_mask.extend(implied_mask(update, UPDATE_MASK))
    changed = await backends.registry.UpdateDeployment(update, metadata=metadata(principal))
    return render(changed)


@router.delete(
    DEPLOYMENT,
    summary="Stop serving and delete a deployment (soft)",
    responses=response_schema(rpb.DeleteResponse),
)
async def delete_deployment(
    project: ProjectPath,
    deployment: DeploymentPath,
    principal: DeployPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    delete = rpb.DeleteRequest(project=project, id=deployment)
    return render(await backends.registry.DeleteDeployment(delete, metadata=metadata(principal)))


@router.post(
    DEPLOYMENT + "/rollback",
    summary="Make a new revision from an older one (default: the one before the current)",
    openapi_extra=body_schema(
        rpb.RollbackDeploymentRequest, exclude=("project", "deployment"), required=False
    ),
    responses=response_schema(rpb.Deployment),
)
async def rollback_deployment(
    project: ProjectPath,
    deployment: DeploymentPath,
    request: Request,
    principal: DeployPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "deployment": deployment}
    rollback = await parse_body(request, rpb.RollbackDeploymentRequest, fixed=fixed)
    changed = await backends.registry.RollbackDeployment(rollback, metadata=metadata(principal))
    return render(changed)


@router.get(
    DEPLOYMENT + "/revisions",
    summary="Every revision of a deployment: target, config, actor and time",
    responses=response_schema(rpb.ListDeploymentRevisionsResponse),
)
async def list_revisions(
    project: ProjectPath,
    deployment: DeploymentPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    listing = rpb.ListDeploymentRevisionsRequest(project=project, deployment=deployment)
    revisions = await backends.registry.ListDeploymentRevisions(
        listing, metadata=metadata(principal)
    )
    return render(revisions)
