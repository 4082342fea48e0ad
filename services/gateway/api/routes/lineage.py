"""/api/v1/projects/{project}/lineage: what an entity came from, or what it produced."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import InvalidArgument
from services.gateway.api.deps import BackendsDep, ProjectPath, ReadPrincipal, metadata
from services.gateway.api.rest import enum_name
from services.gateway.protojson import render, response_schema

router = APIRouter(prefix="/api/v1", tags=["lineage"])


@router.get(
    "/projects/{project}/lineage",
    summary="Walk the lineage graph from one entity",
    responses=response_schema(rpb.GetLineageResponse),
)
async def get_lineage(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    kind: Annotated[
        str,
        Query(
            description="dataset, dataset_version, run, model, model_version, deployment, source "
            "(or the full ENTITY_KIND_... name).",
        ),
    ] = "",
    id: Annotated[str, Query(max_length=2048, description="The entity's id.")] = "",
    direction: Annotated[
        str, Query(description="upstream (default: what it came from) or downstream.")
    ] = "upstream",
    depth: Annotated[int, Query(ge=0, le=50, description="Steps to walk; 0: 10.")] = 0,
) -> JSONResponse:
    principal.check_project(project)
    if not kind or not id:
        raise InvalidArgument("name the entity to start from: ?kind=<kind>&id=<id>")
    walk = rpb.GetLineageRequest(
        project=project,
        entity=cpb.EntityRef(
            kind=enum_name(cpb.EntityKind.DESCRIPTOR, "ENTITY_KIND_", kind, "entity kind"),
            id=id,
        ),
        direction=enum_name(
            rpb.LineageDirection.DESCRIPTOR,
            "LINEAGE_DIRECTION_",
            direction or "upstream",
            "direction",
        ),
        depth=depth,
    )
    return render(await backends.registry.GetLineage(walk, metadata=metadata(principal)))
