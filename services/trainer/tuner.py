"""Tune jobs: several trainer replicas run trials of one Optuna study (stored in the study
database, AIMASS_TRAINER_STUDY_DB_URL, shared by the replicas), each trial a child run of the tune
run; worker 0 owns the run: it claims it, waits for the others' last trials, then retrains the best
trial on all training rows and registers it.

A tune run is queued as ``budget.parallelism`` tasks with the same run id and worker indexes
0..n-1 (service.py). Every worker stops when the study as a whole has spent the budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import shutil
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import optuna

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.bus import Delivery, Poison
from services.common.errors import AimassError, FailedPrecondition, NotFound
from services.trainer import data, training
from services.trainer.cancel import CancelToken, JobCancelled
from services.trainer.library import tuning
from services.trainer.library.base import Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.params import to_param_value
from services.trainer.progress import RunReporter
from services.trainer.runner import FINAL, Claim, JobResult, JobRunner, caller_of
from services.trainer.training import TrainOutcome

logger = logging.getLogger(__name__)

# How long worker 0 waits for the other workers' trials to end before retraining the best.
WAIT_FOR_OTHERS_SECONDS = 3600.0
WAIT_POLL_SECONDS = 1.0
_TRIAL_STATUS = {
    "COMPLETE": (rpb.RUN_STATUS_FINISHED, ""),
    "PRUNED": (rpb.RUN_STATUS_FINISHED, "pruned"),
    "FAIL": (rpb.RUN_STATUS_FAILED, "the trial failed"),
}
_TRIAL_STATE = {
    "RUNNING": tpb.TRIAL_STATE_RUNNING,
    "COMPLETE": tpb.TRIAL_STATE_COMPLETE,
    "PRUNED": tpb.TRIAL_STATE_PRUNED,
    "FAIL": tpb.TRIAL_STATE_FAILED,
}


class TrialRuns:
    """tuning.run_trials' hooks: each trial becomes a child run of the tune run, and an update of
    the tune run's progress. Called from the tuning thread; registry calls go to the event loop."""

    def __init__(
        self,
        runner: JobRunner,
        claim: Claim,
        reporter: RunReporter,
        loop: asyncio.AbstractEventLoop,
        budget: int,
        direction: str,
    ) -> None:
        self.runner, self.claim, self.reporter, self.loop = runner, claim, reporter, loop
        self.budget, self.direction = budget, direction
        self.children: dict[int, str] = {}
        self.open: set[int] = set()
        self.best: tpb.Trial | None = None
        self.finished = 0

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=60)
        except (AimassError, concurrent.futures.TimeoutError) as exc:
            logger.warning("trial bookkeeping of run %s failed: %s", self.claim.run_id, exc)
            return None

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        registry, caller = self.runner.ctx.registry, self.claim.caller
        run = self._call(
            registry.create_run(
                caller,
                rpb.CreateRunRequest(
                    project=caller.project,
                    name=f"trial-{number}",
                    kind="trial",
                    parent_run_id=self.claim.run_id,
                    input_dataset_version_ids=list(self.claim.run.input_dataset_version_ids),
                    params={name: json.dumps(value) for name, value in params.items()},
                    initial_status=rpb.RUN_STATUS_RUNNING,
                    tags={
                        "worker": self.runner.worker_id,
                        "worker_index": str(self.claim.task.worker_index),
                    },
                    idempotency_key=f"{self.claim.run_id}:trial:{number}",
                ),
            )
        )
        if run is not None:
            self.children[number] = run.id
            self.open.add(number)
        self.reporter.trial(self._trial(number, "RUNNING", None, params), self.best)

    def trial_finished(
        self, number: int, state: str, value: float | None, params: Mapping[str, Any]
    ) -> None:
        trial = self._trial(number, state, value, params)
        if state == "COMPLETE" and value is not None and self._better(value):
            self.best = trial
        self.finished += 1
        self.reporter.trial(trial, self.best)
        metrics = {} if value is None else {"objective": value}
        if self.best is not None and self.best.HasField("value"):
            metrics["best_objective"] = self.best.value
        self.reporter.step(self.finished, self.budget, "trial", metrics)
        child = self.children.get(number)
        if child is None:
            return
        registry, caller = self.runner.ctx.registry, self.claim.caller
        if value is not None:
            point = rpb.MetricPoint(key="objective", value=value, step=0)
            self._call(registry.log_metrics(caller, child, [point]))
        status, reason = _TRIAL_STATUS.get(state, (rpb.RUN_STATUS_FAILED, state.lower()))
        self._call(registry.update_run(caller, child, status, reason))
        self.open.discard(number)

    def _better(self, value: float) -> bool:
        if self.best is None or not self.best.HasField("value"):
            return True
        if self.direction == "maximize":
            return value > self.best.value
        return value < self.best.value

    def _trial(
        self, number: int, state: str, value: float | None, params: Mapping[str, Any]
    ) -> tpb.Trial:
        trial = tpb.Trial(
            number=number,
            run_id=self.children.get(number, ""),
            state=_TRIAL_STATE.get(state, tpb.TRIAL_STATE_UNSPECIFIED),
        )
        for name, param in params.items():
            trial.params[name].CopyFrom(to_param_value(param))
        if value is not None:
            trial.value = value
        return trial

    async def close_open(self, reason: str) -> None:
        """Child runs of trials that never reported an end (cancel, crash) end CANCELLED."""
        registry, caller = self.runner.ctx.registry, self.claim.caller
        for number in sorted(self.open):
            try:
                await registry.update_run(
                    caller, self.children[number], rpb.RUN_STATUS_CANCELLED, reason
                )
            except AimassError as exc:
                logger.info("trial run %s not closed: %s", self.children[number], exc.message)
        self.open.clear()


class TuneRunner:
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.ctx = runner.ctx

    async def handle(self, task: tpb.TrainerTask, delivery: Delivery) -> None:
        if not task.run_id or task.WhichOneof("job") != "tune":
            raise Poison("a tune TrainerTask needs run_id and tune")
        if task.worker_index == 0:
            claim = await self.runner.claim(task, delivery.num_delivered)
            if claim is None:
                return
            await self.runner.run_claimed(claim, self.tune_job)
            return
        await self._helper(task, delivery)

    async def _helper(self, task: tpb.TrainerTask, delivery: Delivery) -> None:
        """Workers 1..n-1 run trials only; the run's status is worker 0's."""
        caller = caller_of(task)
        try:
            run = await self.ctx.registry.run(caller, task.run_id)
        except NotFound:
            raise Poison(f"run {task.run_id} does not exist") from None
        if run.status in FINAL:
            return
        claim = Claim(task, caller, run, delivery.num_delivered)
        token = CancelToken()
        key = f"{run.id}/{task.worker_index}"
        self.runner.tokens[key] = token
        work_dir = self.ctx.settings.work_dir() / f"{run.id}-w{task.worker_index}-{claim.attempt}"
        reporter = RunReporter(
            self.ctx,
            caller,
            run.project_id,
            run.id,
            claim.attempt,
            token,
            metric_prefix=f"worker{task.worker_index}_",
        )
        storage = await asyncio.to_thread(tuning.optuna_storage, self.ctx.settings.study_db_url())
        try:
            async with reporter:
                await self._trials(claim, token, reporter, work_dir, storage)
        except JobCancelled:
            logger.info("tune worker %d of run %s stopped", task.worker_index, run.id)
        finally:
            tuning.close_storage(storage)
            self.runner.tokens.pop(key, None)
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def tune_job(
        self, claim: Claim, token: CancelToken, reporter: RunReporter, work_dir: Path
    ) -> JobResult:
        storage = await asyncio.to_thread(tuning.optuna_storage, self.ctx.settings.study_db_url())
        try:
            return await self._tune_with(claim, token, reporter, work_dir, storage)
        finally:
            tuning.close_storage(storage)

    async def _tune_with(
        self,
        claim: Claim,
        token: CancelToken,
        reporter: RunReporter,
        work_dir: Path,
        storage: optuna.storages.RDBStorage,
    ) -> JobResult:
        study, job_data = await self._trials(claim, token, reporter, work_dir, storage)
        tune = claim.task.tune
        await self._wait_for_others(study, token)
        best = tuning.best_params(study)
        if best is None:
            raise FailedPrecondition("no trial completed: the trial runs say why each failed")
        number, value, params = best
        await self.ctx.registry.log_params(
            claim.caller,
            claim.run_id,
            {f"best.{name}": json.dumps(param) for name, param in params.items()}
            | {"best.trial": str(number)},
        )
        reporter.log({f"best_{tune.objective.metric}": value})
        if tune.skip_retrain_best:
            await reporter.flush(poll_status=False)
            return JobResult(None, None)
        reporter.phase(tpb.PHASE_RETRAINING_BEST, f"retraining trial {number}")
        spec = tpb.TrainSpec()
        spec.CopyFrom(tune.base)
        for name, param in params.items():
            spec.params[name].CopyFrom(to_param_value(param))
        model_dir = work_dir / "model"
        outcome: TrainOutcome = await asyncio.to_thread(
            training.fit_and_evaluate,
            spec,
            job_data,
            model_dir,
            reporter=reporter,
            token=token,
            threads=self.runner.threads(),
            cross_validate=False,
        )
        outcome.metrics[f"best_{tune.objective.metric}"] = value
        return await self.runner.publish(claim, spec, outcome, model_dir, token, reporter)

    async def _trials(
        self,
        claim: Claim,
        token: CancelToken,
        reporter: RunReporter,
        work_dir: Path,
        storage: optuna.storages.RDBStorage,
    ) -> tuple[optuna.Study, data.JobData]:
        tune = claim.task.tune
        base = tune.base
        reporter.phase(tpb.PHASE_LOADING_DATA, "loading the dataset version")
        data_dir = await self.runner.download(claim, base, work_dir)
        job_data = await asyncio.to_thread(
            data.load, data_dir, base.data, base.sequence, self.ctx.settings.trainer_max_rows
        )
        algorithm = get_algorithm(base.algorithm)
        task = Task.from_proto(base.task)
        space = tuning.resolve_search_space(tune.search_space, algorithm, task)
        direction = "maximize" if tune.objective.direction == tpb.DIRECTION_MAXIMIZE else "minimize"
        # Each worker samples with its own seed, so parallel workers do not propose the same trials.
        seed = base.seed + claim.task.worker_index
        study = tuning.open_study(
            storage,
            study_name=f"aimass-{claim.run_id}",
            direction=direction,
            sampler=tuning.make_sampler(tune.sampler, space, seed),
            pruner=tuning.make_pruner(tune.pruner, algorithm.iterative),
        )
        threads = self.runner.threads()

        def spec_for(params: Mapping[str, Any]) -> Any:
            spec = tpb.TrainSpec()
            spec.CopyFrom(base)
            for name, param in params.items():
                spec.params[name].CopyFrom(to_param_value(param))
            return training.model_spec(spec, job_data, threads)

        objective = tuning.make_objective(
            space,
            spec_for,
            job_data.train,
            job_data.validation,
            tune.objective.metric,
            base.cv if base.HasField("cv") else None,
            groups=job_data.groups,
            should_stop=lambda: token.cancelled,
        )
        hooks = TrialRuns(
            self.runner,
            claim,
            reporter,
            asyncio.get_running_loop(),
            tune.budget.max_trials,
            direction,
        )
        reporter.phase(tpb.PHASE_TUNING, "tuning")
        try:
            await asyncio.to_thread(
                tuning.run_trials,
                study,
                objective,
                tune.budget,
                should_stop=lambda: token.cancelled,
                hooks=hooks,
            )
        finally:
            await hooks.close_open(token.reason or "the tune job stopped")
        token.check()
        return study, job_data

    async def _wait_for_others(self, study: optuna.Study, token: CancelToken) -> None:
        deadline = time.monotonic() + WAIT_FOR_OTHERS_SECONDS
        while time.monotonic() < deadline:
            token.check()
            tuning.fail_stale_trials(study)
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if not running:
                return
            await asyncio.sleep(WAIT_POLL_SECONDS)
