"""Progress of a running job: the training thread reports rounds, epochs, folds and trials; an
asyncio task writes them into the run's metric history (LogMetrics) and publishes
aimass.trainer.run.progressed at most once per interval. The same task notices a run cancelled in
the registry (a missed cancel message) and stops the job."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Mapping
from typing import cast

from aimass.events.v1 import events_pb2
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.errors import AimassError
from services.common.lifecycle import BackgroundTask
from services.common.logs import request_id_var
from services.common.outbox import Caller, new_id
from services.trainer.cancel import CancelToken
from services.trainer.context import TrainerContext
from services.trainer.events import PROGRESS_SUBJECT

logger = logging.getLogger(__name__)

# The registry is asked for the run's status every this many flushes (a missed cancel message).
STATUS_POLL_EVERY = 5


def run_state(status: int) -> tpb.RunState:
    """The trainer's RunState for a registry RunStatus (the same names)."""
    name = rpb.RunStatus.Name(status).removeprefix("RUN_STATUS_")
    return cast("tpb.RunState", tpb.RunState.Value(f"RUN_STATE_{name}"))


def phase_name(phase: int) -> str:
    return tpb.Phase.Name(phase).removeprefix("PHASE_").lower()


class RunReporter(BackgroundTask):
    def __init__(
        self,
        ctx: TrainerContext,
        caller: Caller,
        project_id: str,
        run_id: str,
        attempt: int,
        token: CancelToken,
        *,
        metric_prefix: str = "",
    ) -> None:
        self.ctx, self.caller, self.project_id = ctx, caller, project_id
        self.run_id, self.attempt, self.token = run_id, attempt, token
        self.metric_prefix = metric_prefix
        self.interval = ctx.settings.trainer_progress_interval_seconds
        self._lock = threading.Lock()
        self._latest = tpb.RunProgress(run_id=run_id, state=tpb.RUN_STATE_RUNNING, attempt=attempt)
        self._changed = False
        self._points: list[rpb.MetricPoint] = []
        self._flushes = 0
        self.task_name = f"trainer-progress-{run_id}"

    # -- called from the training thread ---------------------------------------------------

    def phase(self, phase: tpb.Phase, message: str = "") -> None:
        with self._lock:
            self._latest.phase, self._latest.message = phase, message
            self._latest.step = self._latest.total_steps = 0
            self._latest.step_unit = ""
            self._latest.metrics.clear()
            self._changed = True

    def step(self, step: int, total: int, unit: str, metrics: Mapping[str, float]) -> None:
        """One round / epoch / fold / trial; ``metrics`` go into the metric history at ``step``."""
        self.token.check()
        finite = {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
        with self._lock:
            self._latest.step, self._latest.total_steps, self._latest.step_unit = step, total, unit
            self._latest.metrics.clear()
            self._latest.metrics.update(finite)
            self._points.extend(
                rpb.MetricPoint(key=self.metric_prefix + key, value=value, step=step)
                for key, value in finite.items()
            )
            self._changed = True

    def log(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Final values (no progress update)."""
        with self._lock:
            self._points.extend(
                rpb.MetricPoint(key=key, value=float(value), step=step)
                for key, value in metrics.items()
                if math.isfinite(float(value))
            )

    def trial(self, trial: tpb.Trial, best: tpb.Trial | None) -> None:
        with self._lock:
            self._latest.trial.CopyFrom(trial)
            if best is not None:
                self._latest.best_trial.CopyFrom(best)
            self._changed = True

    def snapshot(self) -> tpb.RunProgress:
        with self._lock:
            copy = tpb.RunProgress()
            copy.CopyFrom(self._latest)
            return copy

    # -- the asyncio side ----------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                logger.warning("progress of run %s not recorded", self.run_id, exc_info=True)

    async def after_stop(self) -> None:
        try:
            await self.flush(poll_status=False)
        except Exception:
            logger.warning("last progress of run %s not recorded", self.run_id, exc_info=True)

    async def flush(self, *, poll_status: bool = True) -> None:
        with self._lock:
            points, self._points = self._points, []
            progress = None
            if self._changed:
                progress = tpb.RunProgress()
                progress.CopyFrom(self._latest)
                self._changed = False
        if points:
            try:
                await self.ctx.registry.log_metrics(self.caller, self.run_id, points)
            except AimassError as exc:
                logger.warning("metrics of run %s not logged: %s", self.run_id, exc.message)
        if progress is not None:
            await self.publish(progress)
        self._flushes += 1
        if poll_status and self._flushes % STATUS_POLL_EVERY == 0:
            await self._check_cancelled()

    async def publish(self, progress: tpb.RunProgress) -> None:
        progress.at.GetCurrentTime()
        await publish_progress(self.ctx, self.project_id, self.caller.actor, progress)

    async def _check_cancelled(self) -> None:
        try:
            run = await self.ctx.registry.run(self.caller, self.run_id)
        except AimassError:
            return
        if run.status == rpb.RUN_STATUS_CANCELLED:
            self.token.cancel(run.status_reason or "cancelled")


async def publish_progress(
    ctx: TrainerContext, project_id: str, actor: str, progress: tpb.RunProgress
) -> None:
    """A RunProgress as an aimass.trainer.run.progressed event (best effort: it is a live view;
    the metric history in the registry is the record)."""
    event = events_pb2.Event(
        event_id=new_id(),
        producer="trainer",
        subject=PROGRESS_SUBJECT,
        project_id=project_id,
        actor=actor,
        request_id=request_id_var.get(),
        run_progressed=events_pb2.RunProgressed(
            run_id=progress.run_id,
            phase=phase_name(progress.phase),
            step=progress.step,
            total_steps=progress.total_steps,
            metrics=dict(progress.metrics),
            message=progress.message,
            progress=progress,
        ),
    )
    event.occurred_at.GetCurrentTime()
    try:
        await ctx.bus.publish(PROGRESS_SUBJECT, event, event.event_id)
    except AimassError as exc:
        logger.debug("progress event of run %s not published: %s", progress.run_id, exc)
