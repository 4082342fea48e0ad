"""/api/v1/projects/{project}/runs: list, search, inspect, compare and delete runs, and read a
metric's history. Submitting, cancelling and following jobs is in ``training.py``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.errors import InvalidArgument
from services.gateway.api.deps import (
    BackendsDep,
    ProjectPath,
    ReadPrincipal,
    TrainPrincipal,
    metadata,
)
from services.gateway.api.rest import PageQuery
from services.gateway.auth import Principal
from services.gateway.clients import Backends
from services.gateway.protojson import (
    body_schema,
    message_ref,
    parse_body,
    render,
    response_schema,
    to_json,
)

router = APIRouter(prefix="/api/v1", tags=["runs"])

RUNS = "/projects/{project}/runs"
RUN = RUNS + "/{run_id}"
RunPath = Annotated[str, Path(description="The run's id.", min_length=1, max_length=128)]
MAX_COMPARED = 20


class RunComparison(BaseModel):
    """Runs side by side: each param and metric key with its value per run id (a run without
    the key is left out of that key's map)."""

    runs: list[dict[str, Any]] = Field(
        json_schema_extra={"items": message_ref(rpb.Run.DESCRIPTOR)},
        description="The runs, in the order asked.",
    )
    params: dict[str, dict[str, str]] = Field(description="param key -> run id -> value")
    metrics: dict[str, dict[str, float]] = Field(description="metric key -> run id -> latest value")


def _status_filter(status: str) -> cpb.Filter:
    values = [value.strip() for value in status.split(",") if value.strip()]
    return cpb.Filter(field="status", op=cpb.Filter.OPERATOR_IN, values=values)


@router.get(
    RUNS,
    summary="The project's runs, newest first",
    responses=response_schema(rpb.SearchRunsResponse),
)
async def list_runs(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    status: Annotated[
        str,
        Query(
            max_length=128,
            description="queued, running, finished, failed or cancelled; comma-separated",
        ),
    ] = "",
    name_contains: Annotated[str, Query(max_length=128)] = "",
) -> JSONResponse:
    principal.check_project(project)
    search = rpb.SearchRequest(
        project=project,
        page=page,
        order_by=[cpb.OrderBy(field="created_at", descending=True)],
    )
    if status:
        search.filters.append(_status_filter(status))
    if name_contains:
        search.filters.add(field="name", op=cpb.Filter.OPERATOR_CONTAINS, values=[name_contains])
    return render(await backends.registry.SearchRuns(search, metadata=metadata(principal)))


@router.post(
    RUNS + "/search",
    summary="Search runs with structured filters (metrics.<key>, params.<key>, status, ...)",
    openapi_extra=body_schema(rpb.SearchRequest, required=False),
    responses=response_schema(rpb.SearchRunsResponse),
)
async def search_runs(
    project: ProjectPath, request: Request, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    search = await parse_body(request, rpb.SearchRequest, fixed={"project": project})
    return render(await backends.registry.SearchRuns(search, metadata=metadata(principal)))


@router.get(
    RUN,
    summary="One run: status, params, latest metrics, artifacts, attempts",
    responses=response_schema(rpb.Run),
)
async def get_run(
    project: ProjectPath,
    run_id: RunPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_deleted: bool = False,
) -> JSONResponse:
    principal.check_project(project)
    get = rpb.GetRunRequest(project=project, id=run_id, include_deleted=include_deleted)
    return render(await backends.registry.GetRun(get, metadata=metadata(principal)))


@router.get(
    RUN + "/metrics/{key:path}",
    summary="Every point of one metric, columnar and paged",
    responses=response_schema(rpb.GetMetricHistoryResponse),
)
async def metric_history(
    project: ProjectPath,
    run_id: RunPath,
    key: Annotated[str, Path(description="The metric's key, e.g. val_loss.", max_length=250)],
    principal: ReadPrincipal,
    backends: BackendsDep,
    start_step: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=0, le=200_000, description="0: 10,000.")] = 0,
    page_token: Annotated[str, Query(max_length=4096)] = "",
) -> JSONResponse:
    principal.check_project(project)
    history = rpb.GetMetricHistoryRequest(
        project=project,
        run_id=run_id,
        key=key,
        start_step=start_step,
        page_size=page_size,
        page_token=page_token,
    )
    return render(await backends.registry.GetMetricHistory(history, metadata=metadata(principal)))


async def _runs(
    backends: Backends, principal: Principal, project: str, ids: list[str]
) -> list[rpb.Run]:
    calls = [
        backends.registry.GetRun(
            rpb.GetRunRequest(project=project, id=run_id), metadata=metadata(principal)
        )
        for run_id in ids
    ]
    return list(await asyncio.gather(*calls))


def _compared(runs: list[rpb.Run]) -> RunComparison:
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, float]] = {}
    for run in runs:
        for key, text in run.params.items():
            params.setdefault(key, {})[run.id] = text
        for key, value in run.metrics.items():
            metrics.setdefault(key, {})[run.id] = value
    return RunComparison(
        runs=[to_json(run) for run in runs],
        params=dict(sorted(params.items())),
        metrics=dict(sorted(metrics.items())),
    )


@router.get(
    "/projects/{project}/runs-compare",
    summary=f"Compare 2 to {MAX_COMPARED} runs' params and metrics",
)
async def compare_runs(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    run_id: Annotated[
        list[str] | None, Query(description=f"2 to {MAX_COMPARED} run ids, repeated.")
    ] = None,
) -> RunComparison:
    principal.check_project(project)
    ids = list(dict.fromkeys(run_id or []))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise InvalidArgument(
            f"compare 2 to {MAX_COMPARED} different runs (?run_id=a&run_id=b), got {len(ids)}"
        )
    return _compared(await _runs(backends, principal, project, ids))


@router.delete(
    RUN,
    summary="Delete a run (soft)",
    responses=response_schema(rpb.DeleteResponse),
)
async def delete_run(
    project: ProjectPath, run_id: RunPath, principal: TrainPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    delete = rpb.DeleteRequest(project=project, id=run_id)
    return render(await backends.registry.DeleteRun(delete, metadata=metadata(principal)))
