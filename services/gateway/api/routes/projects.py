"""/api/v1/projects: create, list, inspect, change and delete projects. Creating and deleting
need an all-projects admin token; a project-bound token lists only its own project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import PermissionDenied
from services.gateway.api.deps import (
    AdminPrincipal,
    BackendsDep,
    ProjectPath,
    ReadPrincipal,
    metadata,
)
from services.gateway.api.rest import PageQuery, implied_mask
from services.gateway.auth import Principal
from services.gateway.clients import Backends
from services.gateway.protojson import body_schema, parse_body, render, response_schema

router = APIRouter(prefix="/api/v1", tags=["projects"])

PROJECT = "/projects/{project}"
UPDATE_MASK = {"description": "description", "labels": "labels"}
IncludeDeleted = Annotated[bool, Query(description="Also soft-deleted ones.")]


def _require_all_projects(principal: Principal, action: str) -> None:
    if principal.project:
        raise PermissionDenied(
            f"{action} a project needs an all-projects admin token; this token is bound to "
            f"project {principal.project!r}"
        )


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project (all-projects admin)",
    openapi_extra=body_schema(rpb.CreateProjectRequest, exclude=()),
    responses=response_schema(rpb.Project, 201),
)
async def create_project(
    request: Request, principal: AdminPrincipal, backends: BackendsDep
) -> JSONResponse:
    _require_all_projects(principal, "creating")
    create = await parse_body(request, rpb.CreateProjectRequest)
    project = await backends.registry.CreateProject(create, metadata=metadata(principal))
    return render(project, 201)


@router.get(
    "/projects",
    summary="List projects (a project-bound token: only its own)",
    responses=response_schema(rpb.ListProjectsResponse),
)
async def list_projects(
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    name_contains: Annotated[str, Query(max_length=128, description="Part of the name.")] = "",
    include_deleted: IncludeDeleted = False,
) -> JSONResponse:
    if principal.project:
        return render(await _own_project(principal, backends, name_contains))
    listing = rpb.ListProjectsRequest(
        page=page, name_contains=name_contains, include_deleted=include_deleted
    )
    return render(await backends.registry.ListProjects(listing, metadata=metadata(principal)))


async def _own_project(
    principal: Principal, backends: Backends, name_contains: str
) -> rpb.ListProjectsResponse:
    if name_contains.lower() not in principal.project.lower():
        return rpb.ListProjectsResponse(page={})
    get = rpb.GetProjectRequest(project=principal.project)
    project = await backends.registry.GetProject(get, metadata=metadata(principal))
    return rpb.ListProjectsResponse(projects=[project], page={})


@router.get(PROJECT, summary="One project", responses=response_schema(rpb.Project))
async def get_project(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: IncludeDeleted = False,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetProjectRequest(project=project, include_deleted=include_deleted)
    return render(await backends.registry.GetProject(get, metadata=metadata(principal)))


@router.patch(
    PROJECT,
    summary="Change a project's description or labels",
    description="Without `update_mask`, the fields the body sets change.",
    openapi_extra=body_schema(rpb.UpdateProjectRequest),
    responses=response_schema(rpb.Project),
)
async def update_project(
    project: ProjectPath, request: Request, principal: AdminPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    update = await parse_body(request, rpb.UpdateProjectRequest, fixed={"project": project})
    if not update.update_mask:
        update.update_mask.extend(implied_mask(update, UPDATE_MASK))
    return render(await backends.registry.UpdateProject(update, metadata=metadata(principal)))


@router.delete(
    PROJECT,
    summary="Delete a project (all-projects admin; soft, refused while it holds live entities)",
    responses=response_schema(rpb.DeleteResponse),
)
async def delete_project(
    project: ProjectPath, principal: AdminPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    _require_all_projects(principal, "deleting")
    delete = rpb.DeleteRequest(project=project)
    return render(await backends.registry.DeleteProject(delete, metadata=metadata(principal)))
