"""The trainer's domain: Submit (validate, record the run, queue the job), Cancel, WatchRun and
the algorithm library. No gRPC here; the servicer translates."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import platform
from collections.abc import AsyncIterator

from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import (
    AimassError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.common.logs import request_id_var
from services.common.outbox import Caller
from services.common.validation import require
from services.trainer import specs
from services.trainer.context import TrainerContext
from services.trainer.events import (
    PROGRESS_SUBJECT,
    RUN_STATUS_SUBJECT,
    TRAIN_SUBJECT,
    TUNE_SUBJECT,
    cancel_subject,
)
from services.trainer.library.base import Task
from services.trainer.library.catalog import algorithms, get_algorithm
from services.trainer.progress import run_state

logger = logging.getLogger(__name__)

TRAINER_RUN_KINDS = ("train", "tune", "trial")
FINAL = (rpb.RUN_STATUS_FINISHED, rpb.RUN_STATUS_FAILED, rpb.RUN_STATUS_CANCELLED)
WATCH_POLL_SECONDS = 5.0
PACKAGES = ("aimass", "numpy", "pandas", "scikit-learn", "xgboost", "torch", "optuna", "skops")


def environment() -> dict[str, str]:
    """Package versions recorded on every run, so a result can be explained later."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


class Trainer:
    def __init__(self, ctx: TrainerContext) -> None:
        self.ctx = ctx

    # -- Submit ----------------------------------------------------------------------------------

    async def submit(self, caller: Caller, request: tpb.SubmitRequest) -> tpb.SubmitResponse:
        project = await self.ctx.registry.project(Caller(caller.actor, request.project))
        caller = Caller(caller.actor, project.name)
        if request.WhichOneof("job") is None:
            raise InvalidArgument("set the job: `train` or `tune`")
        version = await self._dataset_version(caller, specs.data_spec(request))
        job = specs.resolve_submit(request, version)
        job.request.project = project.name
        if request.validate_only:
            return tpb.SubmitResponse(resolved=job.request)
        run = await self.ctx.registry.create_run(
            caller,
            rpb.CreateRunRequest(
                project=project.name,
                name=request.run_name,
                kind=job.kind,
                input_dataset_version_ids=[version.id],
                params=specs.run_params(job),
                tags=dict(request.tags),
                environment=environment(),
                initial_status=rpb.RUN_STATUS_QUEUED,
                idempotency_key=request.idempotency_key,
            ),
        )
        if run.status == rpb.RUN_STATUS_QUEUED:
            await self._queue(caller, run, job)
        return tpb.SubmitResponse(run_id=run.id, resolved=job.request)

    async def _dataset_version(self, caller: Caller, data: tpb.DataSpec) -> rpb.DatasetVersion:
        if not data.dataset_version_id and not data.dataset:
            raise InvalidArgument(
                "data needs dataset_version_id, or dataset (and version; 0 = latest)"
            )
        if data.version < 0:
            raise InvalidArgument("data.version must be >= 0 (0: the latest)")
        try:
            return await self.ctx.registry.dataset_version(
                caller, data.dataset_version_id, data.dataset, data.version
            )
        except NotFound:
            shown = data.dataset_version_id or f"{data.dataset}@{data.version or 'latest'}"
            raise NotFound(
                f"dataset version {shown} does not exist or is not visible to project "
                f"{caller.project!r}"
            ) from None

    async def _queue(self, caller: Caller, run: rpb.Run, job: specs.ResolvedJob) -> None:
        request = job.request
        copies = request.tune.budget.parallelism if job.kind == "tune" else 1
        subject = TUNE_SUBJECT if job.kind == "tune" else TRAIN_SUBJECT
        try:
            for index in range(copies):
                task = tpb.TrainerTask(
                    run_id=run.id,
                    project=caller.project,
                    worker_index=index,
                    request_id=request_id_var.get(),
                    submitted_by=caller.actor,
                )
                if job.kind == "tune":
                    task.tune.CopyFrom(request.tune)
                else:
                    task.train.CopyFrom(request.train)
                task.submitted_at.GetCurrentTime()
                await self.ctx.bus.publish(subject, task, f"{run.id}:{index}")
        except AimassError as exc:
            if request.idempotency_key:
                raise Unavailable(
                    f"run {run.id} is recorded but its job could not be queued ({exc.message}); "
                    "submit again with the same idempotency_key"
                ) from None
            await self.ctx.registry.update_run(
                caller, run.id, rpb.RUN_STATUS_FAILED, f"could not queue the job: {exc.message}"
            )
            raise Unavailable(f"the job could not be queued: {exc.message}") from None

    # -- Cancel ----------------------------------------------------------------------------------

    async def cancel(self, caller: Caller, request: tpb.CancelRequest) -> tpb.CancelResponse:
        caller = Caller(caller.actor, request.project)
        run = await self._trainer_run(caller, request.run_id)
        if run.status not in FINAL:
            reason = request.reason or f"cancelled by {caller.actor}"
            try:
                run = await self.ctx.registry.update_run(
                    caller, run.id, rpb.RUN_STATUS_CANCELLED, reason
                )
            except FailedPrecondition:
                run = await self.ctx.registry.run(caller, run.id)  # it ended meanwhile
            await self.ctx.bus.publish_control(
                cancel_subject(run.id), tpb.CancelRequest(run_id=run.id, reason=reason)
            )
        return tpb.CancelResponse(state=run_state(run.status))

    async def _trainer_run(self, caller: Caller, run_id: str) -> rpb.Run:
        require(run_id, "run_id")
        try:
            run = await self.ctx.registry.run(caller, run_id)
        except NotFound:
            raise NotFound(f"run {run_id!r} does not exist in this project") from None
        if run.kind not in TRAINER_RUN_KINDS:
            raise FailedPrecondition(
                f"run {run_id!r} is a {run.kind!r} run, not a training run: use its own service"
            )
        return run

    # -- WatchRun --------------------------------------------------------------------------------

    async def watch(
        self, caller: Caller, request: tpb.WatchRunRequest
    ) -> AsyncIterator[tpb.RunProgress]:
        caller = Caller(caller.actor, request.project)
        run = await self._trainer_run(caller, request.run_id)
        updates: asyncio.Queue[tpb.RunProgress] = asyncio.Queue(maxsize=10_000)

        async def on_progress(event: events_pb2.Event) -> None:
            body = event.run_progressed
            if body.run_id == run.id and body.HasField("progress"):
                progress = tpb.RunProgress()
                progress.CopyFrom(body.progress)
                if not request.include_trials:
                    progress.ClearField("trial")
                with contextlib.suppress(asyncio.QueueFull):
                    updates.put_nowait(progress)

        async def on_status(event: events_pb2.Event) -> None:
            changed = event.run_status_changed
            # A finished run's last word (with its model version) is the worker's own update.
            ends = changed.to_status in (rpb.RUN_STATUS_FAILED, rpb.RUN_STATUS_CANCELLED)
            if changed.run_id == run.id and (ends or changed.to_status == rpb.RUN_STATUS_RUNNING):
                progress = tpb.RunProgress(
                    run_id=run.id,
                    state=run_state(changed.to_status),
                    attempt=changed.attempt,
                    message=changed.reason,
                )
                if changed.to_status == rpb.RUN_STATUS_FAILED:
                    progress.error = changed.reason
                progress.at.GetCurrentTime()
                with contextlib.suppress(asyncio.QueueFull):
                    updates.put_nowait(progress)

        subscriptions = [
            await self.ctx.bus.listen(PROGRESS_SUBJECT, events_pb2.Event, on_progress),
            await self.ctx.bus.listen(RUN_STATUS_SUBJECT, events_pb2.Event, on_status),
        ]
        try:
            # Read again now that the subscriptions catch every later change.
            run = await self.ctx.registry.run(caller, run.id)
            yield _snapshot(run)
            while run.status not in FINAL:
                try:
                    progress = await asyncio.wait_for(updates.get(), WATCH_POLL_SECONDS)
                except TimeoutError:
                    run = await self.ctx.registry.run(caller, run.id)
                    if run.status in FINAL:
                        yield _snapshot(run)
                    continue
                yield progress
                if progress.state in (
                    tpb.RUN_STATE_FINISHED,
                    tpb.RUN_STATE_FAILED,
                    tpb.RUN_STATE_CANCELLED,
                ):
                    return
        finally:
            for subscription in subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    # -- the library -----------------------------------------------------------------------------

    def list_algorithms(self, request: tpb.ListAlgorithmsRequest) -> tpb.ListAlgorithmsResponse:
        task = None if request.task == tpb.TASK_TYPE_UNSPECIFIED else Task.from_proto(request.task)
        found = [
            info.to_proto()
            for name, info in sorted(algorithms().items())
            if task is None or task in info.tasks
        ]
        return tpb.ListAlgorithmsResponse(algorithms=found)

    def get_algorithm(self, request: tpb.GetAlgorithmRequest) -> tpb.Algorithm:
        return get_algorithm(require(request.name, "name")).to_proto()


def _snapshot(run: rpb.Run) -> tpb.RunProgress:
    progress = tpb.RunProgress(
        run_id=run.id,
        state=run_state(run.status),
        metrics=dict(run.metrics),
        attempt=max((a.attempt for a in run.attempts), default=0),
        message=run.status_reason,
    )
    if run.status == rpb.RUN_STATUS_FAILED:
        progress.error = run.status_reason
    if run.status == rpb.RUN_STATUS_QUEUED:
        progress.phase = tpb.PHASE_QUEUED
    elif run.status in FINAL:
        progress.phase = tpb.PHASE_DONE
    progress.at.GetCurrentTime()
    return progress
