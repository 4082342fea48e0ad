"""One delivery of one trainer job: claim the run, do the work in a thread, store the model and
its evaluation, register the model version, end the run. The run in the registry is the job's
record: the trainer keeps no state of its own.

Claiming moves the run to RUNNING with the delivery's attempt number; the registry allows that
only from QUEUED, or from RUNNING with a higher attempt (a dead worker's job redelivered), so a
duplicate task never runs twice at once. The model version is registered with
``idempotency_key = run id``: a job redelivered after its version was registered gets that version
back and removes its own copy. The consumer allows one delivery more than
AIMASS_TRAINER_MAX_DELIVER attempts: that last one only records the run FAILED when the worker of
the last attempt died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.bus import Delivery, Poison, Retry
from services.common.errors import DEFINITIVE_ERRORS, AimassError, FailedPrecondition, NotFound
from services.common.outbox import Caller
from services.trainer import data, training
from services.trainer.cancel import CancelToken, JobCancelled
from services.trainer.context import TrainerContext
from services.trainer.library.base import Learner
from services.trainer.progress import RunReporter, publish_progress, run_state
from services.trainer.training import TrainOutcome, document_bytes

logger = logging.getLogger(__name__)

FINAL = (rpb.RUN_STATUS_FINISHED, rpb.RUN_STATUS_FAILED, rpb.RUN_STATUS_CANCELLED)
TIMED_OUT = "timed out"


@dataclass
class Claim:
    task: tpb.TrainerTask
    caller: Caller
    run: rpb.Run
    attempt: int

    @property
    def run_id(self) -> str:
        return self.run.id


def caller_of(task: tpb.TrainerTask) -> Caller:
    return Caller(task.submitted_by or "trainer", task.project)


class JobRunner:
    def __init__(self, ctx: TrainerContext, worker_id: str, tokens: dict[str, CancelToken]) -> None:
        self.ctx, self.worker_id, self.tokens = ctx, worker_id, tokens

    @property
    def max_attempts(self) -> int:
        return self.ctx.settings.trainer_max_deliver

    def threads(self) -> int:
        configured = self.ctx.settings.trainer_threads
        if configured:
            return configured
        share = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return max(1, share // self.ctx.settings.trainer_worker_concurrency)

    async def handle(self, task: tpb.TrainerTask, delivery: Delivery) -> None:
        if not task.run_id or task.WhichOneof("job") != "train":
            raise Poison("a train TrainerTask needs run_id and train")
        claim = await self.claim(task, delivery.num_delivered)
        if claim is None:
            return
        await self.run_claimed(claim, self.train_job)

    async def claim(self, task: tpb.TrainerTask, attempt: int) -> Claim | None:
        caller = caller_of(task)
        try:
            run = await self.ctx.registry.run(caller, task.run_id)
        except NotFound:
            raise Poison(f"run {task.run_id} does not exist") from None
        if run.status in FINAL:
            logger.info("run %s already %s; dropping its task", run.id, _status(run.status))
            return None
        if attempt > self.max_attempts:
            done = max((a.attempt for a in run.attempts), default=self.max_attempts)
            await self.end(
                Claim(task, caller, run, attempt),
                rpb.RUN_STATUS_FAILED,
                f"gave up after {done} attempt{'s' if done != 1 else ''}: the worker running the "
                "last one stopped (crashed or was killed)",
            )
            return None
        try:
            run = await self.ctx.registry.update_run(
                caller, run.id, rpb.RUN_STATUS_RUNNING, attempt=attempt, worker=self.worker_id
            )
        except FailedPrecondition as exc:
            logger.info("run %s not claimed by attempt %d: %s", run.id, attempt, exc.message)
            return None
        logger.info("run %s: attempt %d on %s", run.id, attempt, self.worker_id)
        return Claim(task, caller, run, attempt)

    async def run_claimed(self, claim: Claim, work: JobWork) -> None:
        token = CancelToken()
        self.tokens[claim.run_id] = token
        work_dir = self.ctx.settings.work_dir() / f"{claim.run_id}-{claim.attempt}"
        spec = claim.task.train if claim.task.HasField("train") else claim.task.tune.base
        try:
            with _deadline(token, spec.resources.timeout.ToTimedelta().total_seconds()):
                reporter = RunReporter(
                    self.ctx,
                    claim.caller,
                    claim.run.project_id,
                    claim.run_id,
                    claim.attempt,
                    token,
                )
                async with reporter:
                    result = await work(claim, token, reporter, work_dir)
                    await reporter.flush(poll_status=False)
            await self.end(claim, rpb.RUN_STATUS_FINISHED, "", result)
        except JobCancelled as exc:
            if str(exc).startswith(TIMED_OUT):
                await self.end(claim, rpb.RUN_STATUS_FAILED, str(exc))
            else:
                await self.end(claim, rpb.RUN_STATUS_CANCELLED, str(exc) or "cancelled")
        except DEFINITIVE_ERRORS as exc:
            await self.end(claim, rpb.RUN_STATUS_FAILED, exc.message)
        except Exception as exc:
            await self._retry_or_fail(claim, exc)
        finally:
            self.tokens.pop(claim.run_id, None)
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def _retry_or_fail(self, claim: Claim, exc: Exception) -> None:
        reason = exc.message if isinstance(exc, AimassError) else f"{type(exc).__name__}: {exc}"
        if claim.attempt >= self.max_attempts:
            logger.exception("run %s failed on its last attempt", claim.run_id)
            await self.end(
                claim, rpb.RUN_STATUS_FAILED, f"attempt {claim.attempt} failed: {reason}"
            )
            return
        logger.warning(
            "run %s attempt %d failed, retrying: %s", claim.run_id, claim.attempt, reason
        )
        raise Retry(reason)

    async def end(
        self,
        claim: Claim,
        status: rpb.RunStatus,
        reason: str,
        result: JobResult | None = None,
    ) -> None:
        try:
            await self.ctx.registry.update_run(claim.caller, claim.run_id, status, reason)
        except FailedPrecondition as exc:
            # Already final: cancelled through the API while the job finished, say.
            logger.info("run %s not moved to %s: %s", claim.run_id, _status(status), exc.message)
        final = tpb.RunProgress(
            run_id=claim.run_id,
            state=run_state(status),
            phase=tpb.PHASE_DONE,
            attempt=claim.attempt,
            error=reason if status == rpb.RUN_STATUS_FAILED else "",
            message=reason,
        )
        if result is not None and result.model_version is not None:
            final.model_version_id = result.model_version.id
            final.model_version = result.model_version.version
        final.at.GetCurrentTime()
        await publish_progress(self.ctx, claim.run.project_id, claim.caller.actor, final)

    # -- a train job ----------------------------------------------------------------------------

    async def train_job(
        self, claim: Claim, token: CancelToken, reporter: RunReporter, work_dir: Path
    ) -> JobResult:
        spec = claim.task.train
        model_dir = work_dir / "model"
        if training.on_dask(spec):
            # The cluster's workers read the parts from the store themselves: nothing downloaded.
            reporter.phase(tpb.PHASE_LOADING_DATA, "locating the dataset version's parts")
            parts = await data.store_parts(self.ctx.store, await self.dataset_version(claim, spec))
            outcome = await asyncio.to_thread(
                training.train_on_cluster, spec, parts, model_dir, reporter=reporter, token=token
            )
        else:
            reporter.phase(tpb.PHASE_LOADING_DATA, "loading the dataset version")
            data_dir = await self.download(claim, spec, work_dir)
            outcome = await asyncio.to_thread(
                training.train,
                spec,
                data_dir,
                model_dir,
                reporter=reporter,
                token=token,
                threads=self.threads(),
                max_rows=self.ctx.settings.trainer_max_rows,
            )
        return await self.publish(claim, spec, outcome, model_dir, token, reporter)

    async def download(self, claim: Claim, spec: tpb.TrainSpec, work_dir: Path) -> Path:
        version = await self.dataset_version(claim, spec)
        return await data.download(self.ctx.store, version, work_dir / "data")

    async def dataset_version(self, claim: Claim, spec: tpb.TrainSpec) -> rpb.DatasetVersion:
        version = await self.ctx.registry.dataset_version(
            claim.caller, spec.data.dataset_version_id
        )
        if delay := self.ctx.settings.trainer_test_job_delay_seconds:
            await asyncio.sleep(delay)
        return version

    async def publish(
        self,
        claim: Claim,
        spec: tpb.TrainSpec,
        outcome: TrainOutcome,
        model_dir: Path,
        token: CancelToken,
        reporter: RunReporter,
    ) -> JobResult:
        """The run's artifacts and metrics, then the model version (when the job names a model)."""
        run_prefix = f"runs/{claim.run_id}/attempt-{claim.attempt}"
        artifacts: list[rpb.RunArtifact] = []
        for name, document in outcome.documents.items():
            put = await self.ctx.store.put_bytes(f"{run_prefix}/{name}", document_bytes(document))
            artifacts.append(
                rpb.RunArtifact(
                    path=name,
                    uri=self.ctx.store.uri(f"{run_prefix}/{name}"),
                    size_bytes=put.size,
                    content_hash=put.digest,
                )
            )
        if spec.output.model:
            prefix = f"models/{spec.output.model}/{claim.run_id}-{claim.attempt}"
        else:
            prefix = f"{run_prefix}/model"
        tree = await self.ctx.store.put_tree(prefix, model_dir)
        artifacts.append(
            rpb.RunArtifact(
                path="model", uri=tree.uri, size_bytes=tree.size, content_hash=tree.digest
            )
        )
        await self.ctx.registry.add_run_artifacts(claim.caller, claim.run_id, artifacts)
        reporter.log(outcome.metrics)
        await reporter.flush(poll_status=False)
        token.check()
        if not spec.output.model:
            return JobResult(outcome, None)
        reporter.phase(tpb.PHASE_REGISTERING, "registering the model version")
        version = await self.register(claim, spec, outcome, tree.uri, tree.digest)
        if self.ctx.store.key_for(version.artifact_uri) != prefix:
            # An earlier attempt registered the version: keep its files, drop ours.
            await self.ctx.store.delete_prefix(prefix)
        for alias in spec.output.aliases:
            await self.ctx.registry.set_model_alias(
                claim.caller, spec.output.model, alias, version.version
            )
        return JobResult(outcome, version)

    async def register(
        self, claim: Claim, spec: tpb.TrainSpec, outcome: TrainOutcome, uri: str, digest: str
    ) -> rpb.ModelVersion:
        dataset_version = await self.ctx.registry.dataset_version(
            claim.caller, spec.data.dataset_version_id
        )
        request = rpb.CreateModelVersionRequest(
            project=claim.caller.project,
            model=spec.output.model,
            create_model=True,
            framework=outcome.model.spec.algorithm.library,
            artifact_format=outcome.model.artifact_format,
            artifact_uri=uri,
            content_hash=digest,
            signature=signature(outcome, dataset_version),
            metrics=outcome.metrics,
            source_run_id=claim.run_id,
            description=spec.output.description,
            tags=dict(spec.output.tags),
            task=outcome.model.spec.task.value,
            idempotency_key=claim.run_id,
        )
        return await self.ctx.registry.create_model_version(claim.caller, request)


@dataclass
class JobResult:
    outcome: TrainOutcome | None
    model_version: rpb.ModelVersion | None


# What a job does once claimed: train_job, or the tuner's tune_job.
JobWork = Callable[[Claim, CancelToken, RunReporter, Path], Awaitable[JobResult]]


def signature(outcome: TrainOutcome, version: rpb.DatasetVersion) -> rpb.ModelSignature:
    """Inputs: the feature columns as the dataset declares them; outputs: predictions (and
    probabilities for classifiers)."""
    fields = {f.name: f for f in version.schema.fields}
    model = outcome.model
    inputs = [fields[c.name] for c in model.spec.columns if c.name in fields]
    outputs = [_prediction_field(outcome, fields)]
    has_probabilities = type(model.learner).predict_proba is not Learner.predict_proba
    if model.spec.task.classifies and has_probabilities:
        outputs.append(
            cpb.Field(
                name="probabilities",
                type=cpb.DATA_TYPE_FP64,
                shape=[len(model.classes)],
                description="class probabilities, in the order of the model's classes: "
                + ", ".join(str(c) for c in model.classes)[:900],
            )
        )
    return rpb.ModelSignature(inputs=cpb.Schema(fields=inputs), outputs=cpb.Schema(fields=outputs))


def _prediction_field(outcome: TrainOutcome, fields: dict[str, cpb.Field]) -> cpb.Field:
    spec = outcome.model.spec
    task = spec.task.value
    if spec.task.classifies and spec.target in fields:
        return cpb.Field(name="predictions", type=fields[spec.target].type, description="class")
    if task == "clustering":
        return cpb.Field(name="predictions", type=cpb.DATA_TYPE_INT64, description="cluster id")
    if task == "dimensionality_reduction":
        return cpb.Field(name="predictions", type=cpb.DATA_TYPE_FP64, shape=[-1])
    if task == "forecasting" and spec.sequence is not None:
        return cpb.Field(name="predictions", type=cpb.DATA_TYPE_FP64, shape=[spec.sequence.horizon])
    return cpb.Field(name="predictions", type=cpb.DATA_TYPE_FP64)


@contextlib.contextmanager
def _deadline(token: CancelToken, seconds: float) -> Iterator[None]:
    if seconds <= 0:
        yield
        return
    handle = asyncio.get_running_loop().call_later(
        seconds, token.cancel, f"{TIMED_OUT} after {seconds:g} s (resources.timeout)"
    )
    try:
        yield
    finally:
        handle.cancel()


def _status(status: int) -> str:
    return rpb.RunStatus.Name(status).removeprefix("RUN_STATUS_").lower()
