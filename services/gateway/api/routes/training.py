"""The trainer through REST: the algorithm library, training and tuning jobs, cancelling a run and
following its progress as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import InvalidArgument
from services.gateway.api.deps import (
    BackendsDep,
    ProjectPath,
    ReadPrincipal,
    TrainPrincipal,
    metadata,
)
from services.gateway.api.rest import (
    WATCH_DEADLINE_SECONDS,
    enum_name,
    sse_responses,
    sse_stream,
)
from services.gateway.auth import Principal
from services.gateway.clients import Backends
from services.gateway.protojson import (
    body_schema,
    parse_body,
    render,
    response_schema,
)

router = APIRouter(prefix="/api/v1", tags=["training"])

RUN = "/projects/{project}/runs/{run_id}"
RunPath = Annotated[str, Path(description="The run's id.", min_length=1, max_length=128)]
JOB_ROUTES = {"train": "training-jobs", "tune": "tuning-jobs"}
FINAL_RUN_STATES = frozenset(
    {tpb.RUN_STATE_FINISHED, tpb.RUN_STATE_FAILED, tpb.RUN_STATE_CANCELLED}
)


def _submit_docs(job: str) -> str:
    return (
        f"The body is a SubmitRequest without `project`, with `{job}` set. Answers 202 with the "
        "run id and the job as resolved (defaults filled in, dataset version and seed chosen); "
        "follow it at `/runs/{run_id}/events`. `validate_only` checks without creating a run."
    )


@router.get(
    "/algorithms",
    summary="The algorithm library and each hyperparameter's type, default and range",
    responses=response_schema(tpb.ListAlgorithmsResponse),
)
async def list_algorithms(
    principal: ReadPrincipal,
    backends: BackendsDep,
    task: Annotated[
        str, Query(description="Only algorithms for this task, e.g. classification.")
    ] = "",
) -> JSONResponse:
    listing = tpb.ListAlgorithmsRequest(
        task=enum_name(tpb.TaskType.DESCRIPTOR, "TASK_TYPE_", task, "task")
    )
    return render(await backends.trainer.ListAlgorithms(listing, metadata=metadata(principal)))


@router.get(
    "/algorithms/{name}",
    summary="One algorithm, e.g. xgboost.gbdt",
    responses=response_schema(tpb.Algorithm),
)
async def get_algorithm(
    name: Annotated[str, Path(max_length=256)], principal: ReadPrincipal, backends: BackendsDep
) -> JSONResponse:
    get = tpb.GetAlgorithmRequest(name=name)
    return render(await backends.trainer.GetAlgorithm(get, metadata=metadata(principal)))


async def _submit(
    job: str, project: str, request: Request, principal: Principal, backends: Backends
) -> JSONResponse:
    submit = await parse_body(request, tpb.SubmitRequest, fixed={"project": project})
    given = submit.WhichOneof("job")
    if given is None:
        raise InvalidArgument(f"the body needs `{job}`: the job to run")
    if given != job:
        raise InvalidArgument(
            f"this route runs `{job}` jobs; send a `{given}` job to "
            f"/api/v1/projects/{project}/{JOB_ROUTES[given]}"
        )
    answer = await backends.trainer.Submit(submit, metadata=metadata(principal))
    return render(answer, 202)


@router.post(
    "/projects/{project}/training-jobs",
    status_code=202,
    summary="Submit a training job",
    description=_submit_docs("train"),
    openapi_extra=body_schema(tpb.SubmitRequest),
    responses=response_schema(tpb.SubmitResponse, 202),
)
async def submit_training(
    project: ProjectPath, request: Request, principal: TrainPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    return await _submit("train", project, request, principal, backends)


@router.post(
    "/projects/{project}/tuning-jobs",
    status_code=202,
    summary="Submit a hyperparameter tuning job",
    description=_submit_docs("tune"),
    openapi_extra=body_schema(tpb.SubmitRequest),
    responses=response_schema(tpb.SubmitResponse, 202),
)
async def submit_tuning(
    project: ProjectPath, request: Request, principal: TrainPrincipal, backends: BackendsDep
) -> JSONResponse:
    principal.check_project(project)
    return await _submit("tune", project, request, principal, backends)


@router.post(
    RUN + "/cancel",
    summary="Cancel a queued or running job (a tuning run's trials too)",
    openapi_extra=body_schema(tpb.CancelRequest, exclude=("project", "run_id"), required=False),
    responses=response_schema(tpb.CancelResponse),
)
async def cancel_run(
    project: ProjectPath,
    run_id: RunPath,
    request: Request,
    principal: TrainPrincipal,
    backends: BackendsDep,
) -> JSONResponse:
    principal.check_project(project)
    fixed = {"project": project, "run_id": run_id}
    cancel = await parse_body(request, tpb.CancelRequest, fixed=fixed)
    return render(await backends.trainer.Cancel(cancel, metadata=metadata(principal)))


@router.get(
    RUN + "/events",
    summary="Follow a run: Server-Sent Events of RunProgress until it ends",
    description="The run's state now, then every update (phase, step, latest metrics, trials "
    "of a tuning run, the model version at the end); the stream ends at FINISHED, FAILED or "
    "CANCELLED.",
    response_class=StreamingResponse,
    responses=sse_responses("progress", "RunProgress", "FINISHED, FAILED or CANCELLED"),
)
async def run_events(
    project: ProjectPath,
    run_id: RunPath,
    principal: ReadPrincipal,
    backends: BackendsDep,
    include_trials: Annotated[bool, Query(description="Also one update per trial.")] = False,
) -> StreamingResponse:
    principal.check_project(project)
    watch = tpb.WatchRunRequest(project=project, run_id=run_id, include_trials=include_trials)
    call = backends.trainer.WatchRun(
        watch, metadata=metadata(principal), timeout=WATCH_DEADLINE_SECONDS
    )
    return await sse_stream(
        call, lambda progress: progress.state in FINAL_RUN_STATES, event="progress"
    )
