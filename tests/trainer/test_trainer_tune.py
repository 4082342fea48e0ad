"""Tune jobs through the service: trials as child runs, several trainer replicas sharing one Optuna
study in the real PostgreSQL, the best trial retrained and registered; cancel stops the trials."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from tests.conftest import create_pg_database, delete_streams, drop_pg_database, nats_url
from tests.trainer.service_fixtures import (
    META,
    Stack,
    StartTrainer,
    runs_of,
    submit,
    train_spec,
    wait_run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def study_db() -> AsyncIterator[str]:
    url = await create_pg_database("aimass_studies")
    yield url
    await drop_pg_database(url)


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    yield name
    await delete_streams(nats_url(), f"{name}_")


def _tree_search(stack: Stack, trials: int, parallelism: int) -> tpb.TuneSpec:
    base = train_spec(
        "sklearn.decision_tree",
        stack.datasets["diabetes"],
        "target",
        task=tpb.TASK_TYPE_REGRESSION,
        cv=tpb.CrossValidation(method=tpb.CV_METHOD_KFOLD, folds=3, shuffle=True),
        seed=9,
        output=tpb.ModelOutput(model=f"tuned-{uuid.uuid4().hex[:6]}"),
    )
    space = tpb.SearchSpace(
        params=[
            tpb.ParamDistribution(name="max_depth", int_range=tpb.IntRange(low=1, high=8)),
            tpb.ParamDistribution(
                name="min_samples_leaf", int_range=tpb.IntRange(low=1, high=60, log=True)
            ),
        ]
    )
    return tpb.TuneSpec(
        base=base,
        search_space=space,
        objective=tpb.Objective(metric="rmse"),
        budget=tpb.Budget(max_trials=trials, parallelism=parallelism),
    )


@pytest.mark.slow
async def test_two_replicas_share_one_study(
    stack: Stack, extra_trainer: StartTrainer, study_db: str, namespace: str
) -> None:
    replicas = [
        await extra_trainer(
            bus_namespace=namespace, trainer_study_db_url=study_db, trainer_worker_id=f"w{i}"
        )
        for i in range(2)
    ]
    tune = _tree_search(stack, trials=8, parallelism=2)
    answered = await submit(replicas[0], stack.project, tune=tune)
    assert answered.resolved.tune.objective.direction == tpb.DIRECTION_MINIMIZE
    run = await wait_run(stack, stack.project, answered.run_id, deadline=180)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    trials = [r for r in await runs_of(stack, stack.project) if r.parent_run_id == run.id]
    assert len(trials) == 8
    assert all(t.kind == "trial" and t.status == rpb.RUN_STATUS_FINISHED for t in trials)
    # Both replicas ran trials of the one study.
    workers = {t.tags.get("worker", "") for t in trials}
    assert len(workers) == 2, workers
    best = min(t.metrics["objective"] for t in trials)
    assert run.metrics["best_rmse"] == pytest.approx(best)
    assert json.loads(run.params["best.max_depth"]) in range(1, 9)
    version = await stack.registry.GetModelVersion(
        rpb.GetModelVersionRequest(project=stack.project, model=tune.base.output.model),
        metadata=META,
    )
    assert version.source_run_id == run.id


async def test_tuning_beats_the_defaults(
    stack: Stack, extra_trainer: StartTrainer, namespace: str
) -> None:
    trainer = await extra_trainer(bus_namespace=namespace)
    tune = _tree_search(stack, trials=12, parallelism=1)
    default = tpb.TrainSpec()
    default.CopyFrom(tune.base)
    default.output.Clear()
    tuned = await submit(trainer, stack.project, tune=tune)
    plain = await submit(trainer, stack.project, train=default)
    tuned_run = await wait_run(stack, stack.project, tuned.run_id, deadline=180)
    plain_run = await wait_run(stack, stack.project, plain.run_id, deadline=60)
    assert tuned_run.status == plain_run.status == rpb.RUN_STATUS_FINISHED
    # The same folds and seed: the search's best CV RMSE beats the default tree's (which
    # overfits with unlimited depth).
    assert tuned_run.metrics["best_rmse"] < plain_run.metrics["cv_rmse_mean"]


async def test_cancel_stops_the_trials(
    stack: Stack, extra_trainer: StartTrainer, namespace: str
) -> None:
    trainer = await extra_trainer(bus_namespace=namespace)
    tune = _tree_search(stack, trials=10_000, parallelism=1)
    answered = await submit(trainer, stack.project, tune=tune)
    await wait_run(stack, stack.project, answered.run_id, (rpb.RUN_STATUS_RUNNING,))
    cancelled = await trainer.stub.Cancel(
        tpb.CancelRequest(project=stack.project, run_id=answered.run_id), metadata=META
    )
    assert cancelled.state == tpb.RUN_STATE_CANCELLED
    tokens = trainer.server.worker.tokens  # type: ignore[union-attr]
    for _ in range(100):
        if answered.run_id not in tokens:
            break
        await asyncio.sleep(0.1)
    assert answered.run_id not in tokens, "the tune job still runs"
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_CANCELLED
    trials = [r for r in await runs_of(stack, stack.project) if r.parent_run_id == run.id]
    assert trials and all(t.status != rpb.RUN_STATUS_RUNNING for t in trials)
