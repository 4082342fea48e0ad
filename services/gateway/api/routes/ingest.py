"""/api/v1/projects/{project}/sources and /ingest-jobs: saved sources, recipe previews, ingest
jobs (create, list, inspect, cancel) and a job's progress as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from aimass.common.v1 import common_pb2 as cpb
from aimass.ingest.v1 import ingest_pb2 as ipb
from services.gateway.api.deps import (
    BackendsDep,
    DataWritePrincipal,
    ProjectPath,
    ReadPrincipal,
    metadata,
)
from services.gateway.api.rest import (
    WATCH_DEADLINE_SECONDS,
    PageQuery,
    sse_responses,
    sse_stream,
)
from services.gateway.protojson import body_schema, parse_body, render, response_schema

router = APIRouter(prefix="/api/v1", tags=["ingest"])

SOURCES = "/projects/{project}/sources"
JOBS = "/projects/{project}/ingest-jobs"
JOB = JOBS + "/{job_id}"
FINAL_STATES = frozenset(
    {
        ipb.INGEST_JOB_STATE_SUCCEEDED,
        ipb.INGEST_JOB_STATE_FAILED,
        ipb.INGEST_JOB_STATE_CANCELLED,
    }
)
SourcePath = Annotated[str, Path(description="Source id or name.", min_length=1, max_length=128)]
JobPath = Annotated[str, Path(description="The job's id.", min_length=1, max_length=128)]


@router.post(
    SOURCES,
    status_code=201,
    summary="Save a source definition (a database table or query, a file URL)",
    description="Secrets go in `credentials.secret_ref` (or an inline secret, stored encrypted "
    "and never returned). `check_connection` connects or lists before saving.",
    openapi_extra=body_schema(ipb.CreateSourceRequest),
    responses=response_schema(ipb.SourceDefinition, 201),
)
async def create_source(
    project: ProjectPath, request: Request, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    create = await parse_body(request, ipb.CreateSourceRequest, fixed={"project": project})
    return render(await backends.ingest.CreateSource(create, metadata=metadata(principal)), 201)


@router.get(
    SOURCES, summary="List saved sources", responses=response_schema(ipb.ListSourcesResponse)
)
async def list_sources(
    project: ProjectPath, principal: ReadPrincipal, backends: BackendsDep, page: PageQuery
) -> JSONResponse:
    principal.check_project(project)
    listing = ipb.ListSourcesRequest(project=project, page=page)
    return render(await backends.ingest.ListSources(listing, metadata=metadata(principal)))


@router.get(
    SOURCES + "/{source}",
    summary="One saved source",
    responses=response_schema(ipb.SourceDefinition),
)
async def get_source(
    project: ProjectPath, source: SourcePath, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    get = ipb.GetSourceRequest(project=project, source=source)
    return render(await backends.ingest.GetSource(get, metadata=metadata(principal)))


@router.delete(
    SOURCES + "/{source}",
    summary="Delete a saved source",
    responses=response_schema(ipb.DeleteSourceResponse),
)
async def delete_source(
    project: ProjectPath, source: SourcePath, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    delete = ipb.DeleteSourceRequest(project=project, source=source)
    return render(await backends.ingest.DeleteSource(delete, metadata=metadata(principal)))


@router.post(
    JOBS + "/preview",
    summary="Run a recipe on the first rows only, writing nothing",
    description="Answers the output schema, sample rows, the recipe with detected options "
    "(delimiter, header, encoding, types) filled in, malformed rows met and warnings.",
    openapi_extra=body_schema(ipb.PreviewIngestRequest),
    responses=response_schema(ipb.PreviewIngestResponse),
)
async def preview_ingest(
    project: ProjectPath, request: Request, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    preview = await parse_body(request, ipb.PreviewIngestRequest, fixed={"project": project})
    return render(await backends.ingest.PreviewIngest(preview, metadata=metadata(principal)))


@router.post(
    JOBS,
    status_code=202,
    summary="Queue an ingest job writing a new dataset version",
    description="The recipe is validated (with a dry run on the first rows) before anything is "
    "queued; follow the job at `/ingest-jobs/{job_id}/events`. An `idempotency_key` answers "
    "the job already made with it.",
    openapi_extra=body_schema(ipb.CreateIngestJobRequest),
    responses=response_schema(ipb.IngestJob, 202),
)
async def create_job(
    project: ProjectPath, request: Request, principal: DataWritePrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    create = await parse_body(request, ipb.CreateIngestJobRequest, fixed={"project": project})
    return render(await backends.ingest.CreateIngestJob(create, metadata=metadata(principal)), 202)


@router.get(
    JOBS,
    summary="List ingest jobs, newest first",
    responses=response_schema(ipb.ListIngestJobsResponse),
)
async def list_jobs(
    project: ProjectPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    page: PageQuery,
    state: Annotated[
        str, Query(max_length=256, description="States, comma-separated, e.g. running,queued.")
    ] = "",
    dataset: Annotated[str, Query(max_length=128, description="Target dataset name.")] = "",
) -> JSONResponse:
    principal.check_project(project)
    listing = ipb.ListIngestJobsRequest(project=project, page=page)
    states = [value.strip() for value in state.split(",") if value.strip()]
    if states:
        listing.filters.add(field="state", op=cpb.Filter.OPERATOR_IN, values=states)
    if dataset:
        listing.filters.add(field="dataset", op=cpb.Filter.OPERATOR_EQ, values=[dataset])
    return render(await backends.ingest.ListIngestJobs(listing, metadata=metadata(principal)))


@router.get(JOB, summary="One ingest job", responses=response_schema(ipb.IngestJob))
async def get_job(
    project: ProjectPath, job_id: JobPath, principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    get = ipb.GetIngestJobRequest(project=project, job_id=job_id)
    return render(await backends.ingest.GetIngestJob(get, metadata=metadata(principal)))


@router.post(
    JOB + "/cancel",
    summary="Cancel a queued or running job (nothing it wrote becomes visible)",
    openapi_extra=body_schema(
        ipb.CancelIngestJobRequest, exclude=("project", "job_id"), required=False
    ),
    responses=response_schema(ipb.IngestJob),
)
async def cancel_job(
    project: ProjectPath,
    job_id: JobPath,
    request: Request,
    principal: DataWritePrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "job_id": job_id}
    cancel = await parse_body(request, ipb.CancelIngestJobRequest, fixed=fixed)
    return render(await backends.ingest.CancelIngestJob(cancel, metadata=metadata(principal)))


@router.get(
    JOB + "/events",
    summary="Follow a job: Server-Sent Events of the IngestJob until it ends",
    description="The job now, then on every change (state, progress: phase, rows and bytes "
    "read, rows written); the stream ends at SUCCEEDED, FAILED or CANCELLED.",
    response_class=StreamingResponse,
    responses=sse_responses("job", "IngestJob", "SUCCEEDED, FAILED or CANCELLED"),
)
async def job_events(
    project: ProjectPath, job_id: JobPath, principal: ReadPrincipal, backends: BackendsDep
) -> StreamingResponse:
    principal.check_project(project)
    watch = ipb.WatchIngestJobRequest(project=project, job_id=job_id)
    call = backends.ingest.WatchIngestJob(
        watch, metadata=metadata(principal), timeout=WATCH_DEADLINE_SECONDS
    )
    return await sse_stream(call, lambda job: job.state in FINAL_STATES, event="job")
