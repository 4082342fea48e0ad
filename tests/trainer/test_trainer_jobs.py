"""Train jobs through the real gRPC service: Submit answers at once, a worker trains over real
NATS, progress streams through WatchRun, the model version lands in the registry with signature,
metrics and lineage, and its artifact loads and predicts the same as the job's evaluation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from aimass.common.v1 import common_pb2 as cpb
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import load_model
from tests.helpers import refused
from tests.trainer.service_fixtures import (
    META,
    Stack,
    TrainerHandle,
    submit,
    train_spec,
    wait_run,
)

pytestmark = pytest.mark.integration


async def test_list_and_get_algorithms(trainer: TrainerHandle) -> None:
    listed = await trainer.stub.ListAlgorithms(tpb.ListAlgorithmsRequest(), timeout=10)
    names = {a.name for a in listed.algorithms}
    assert {"sklearn.logistic_regression", "xgboost.gbdt", "torch.mlp", "torch.lstm"} <= names
    clustering = await trainer.stub.ListAlgorithms(
        tpb.ListAlgorithmsRequest(task=tpb.TASK_TYPE_CLUSTERING), timeout=10
    )
    assert {a.name for a in clustering.algorithms} >= {"sklearn.kmeans", "sklearn.dbscan"}
    assert all(tpb.TASK_TYPE_CLUSTERING in a.tasks for a in clustering.algorithms)
    gbdt = await trainer.stub.GetAlgorithm(tpb.GetAlgorithmRequest(name="xgboost.gbdt"))
    assert gbdt.iterative and gbdt.hyperparameters
    by_name = {h.name: h for h in gbdt.hyperparameters}
    assert by_name["learning_rate"].description
    await refused(
        trainer.stub.GetAlgorithm(tpb.GetAlgorithmRequest(name="sklearn.nope")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "sklearn.nope",
    )


async def test_train_registers_a_model_that_predicts(
    stack: Stack, trainer: TrainerHandle, tmp_path: Path
) -> None:
    spec = train_spec(
        "sklearn.logistic_regression",
        stack.datasets["cancer"],
        "target",
        output=tpb.ModelOutput(model="cancer-lr", aliases=["staging"]),
        seed=11,
    )
    answered = await submit(trainer, stack.project, train=spec, run_name="lr-cancer")
    assert answered.run_id
    resolved = answered.resolved.train
    assert resolved.data.train_split == "train" and resolved.data.test_split == "test"
    assert "C" in resolved.params and resolved.seed == 11
    assert len(resolved.data.feature_columns) == 30

    updates = []
    async for progress in trainer.stub.WatchRun(
        tpb.WatchRunRequest(project=stack.project, run_id=answered.run_id),
        metadata=META,
        timeout=120,
    ):
        updates.append(progress)
    assert updates[-1].state == tpb.RUN_STATE_FINISHED, updates[-1]
    assert updates[-1].model_version_id
    phases = {u.phase for u in updates}
    assert tpb.PHASE_DONE in phases

    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert run.kind == "train" and run.params["algorithm"] == "sklearn.logistic_regression"
    assert run.environment["scikit-learn"]
    assert list(run.input_dataset_version_ids) == [stack.datasets["cancer"]]
    assert run.metrics["test_accuracy"] >= 0.93
    assert {a.path for a in run.artifacts} >= {"model", "evaluation-test.json"}

    version = await stack.registry.GetModelVersion(
        rpb.GetModelVersionRequest(project=stack.project, model="cancer-lr", alias="staging"),
        metadata=META,
    )
    assert version.id == updates[-1].model_version_id
    assert version.source_run_id == run.id and version.task == "classification"
    assert version.artifact_format == "skops" and version.framework == "sklearn"
    assert [f.name for f in version.signature.inputs.fields] == list(resolved.data.feature_columns)
    assert version.signature.outputs.fields[0].name == "predictions"
    assert version.signature.outputs.fields[1].name == "probabilities"
    assert version.metrics["test_accuracy"] == pytest.approx(run.metrics["test_accuracy"])

    # The artifact is a self-contained model folder: load it and predict raw rows.
    local = tmp_path / "model"
    await trainer.store.get_tree(trainer.store.key_for(version.artifact_uri), local)
    model = load_model(local, get_algorithm)
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.columns = [c.replace(" ", "_") for c in cancer.columns]
    predicted = model.predict(cancer.drop(columns="target"))
    accuracy = float((pd.Series(predicted.predictions) == cancer["target"]).mean())
    assert accuracy >= 0.93
    assert predicted.probabilities is not None and predicted.probabilities.shape == (569, 2)

    lineage = await stack.registry.GetLineage(
        rpb.GetLineageRequest(
            project=stack.project,
            entity=cpb.EntityRef(kind=cpb.ENTITY_KIND_MODEL_VERSION, id=version.id),
            direction=rpb.LINEAGE_DIRECTION_UPSTREAM,
        ),
        metadata=META,
    )
    kinds = {n.entity.kind for n in lineage.nodes}
    assert {cpb.ENTITY_KIND_RUN, cpb.ENTITY_KIND_DATASET_VERSION} <= kinds


async def test_progress_goes_into_the_metric_history(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "xgboost.gbdt",
        stack.datasets["cancer"],
        "target",
        params={"n_estimators": 40, "max_depth": 3},
        seed=5,
    )
    answered = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    history = await stack.registry.GetMetricHistory(
        rpb.GetMetricHistoryRequest(project=stack.project, run_id=run.id, key="val_loss"),
        metadata=META,
    )
    assert len(history.steps) >= 10 and list(history.steps) == sorted(history.steps)
    assert history.values[-1] < history.values[0]
    assert run.metrics["test_accuracy"] >= 0.93
    # Nothing registered: the job named no model.
    assert not any(a.path == "model" and "models/" in a.uri for a in run.artifacts)


async def test_same_seed_same_result(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "sklearn.random_forest",
        stack.datasets["diabetes"],
        "target",
        task=tpb.TASK_TYPE_REGRESSION,
        params={"n_estimators": 30},
        seed=3,
    )
    first = await submit(trainer, stack.project, train=spec)
    second = await submit(trainer, stack.project, train=spec)
    runs = [await wait_run(stack, stack.project, r.run_id) for r in (first, second)]
    assert all(r.status == rpb.RUN_STATUS_FINISHED for r in runs), [r.status_reason for r in runs]
    assert runs[0].metrics["test_rmse"] == runs[1].metrics["test_rmse"]
    assert runs[0].metrics["test_r2"] > 0.3


async def test_cross_validation_metrics_and_folds(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "sklearn.decision_tree",
        stack.datasets["iris"],
        "target",
        cv=tpb.CrossValidation(method=tpb.CV_METHOD_STRATIFIED_KFOLD, folds=5, shuffle=True),
        seed=2,
    )
    answered = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert run.metrics["cv_accuracy_mean"] > 0.85
    assert "cv_accuracy_std" in run.metrics
    # No validation or test split: the model is scored on its training rows.
    assert "train_accuracy" in run.metrics
    history = await stack.registry.GetMetricHistory(
        rpb.GetMetricHistoryRequest(project=stack.project, run_id=run.id, key="cv_accuracy"),
        metadata=META,
    )
    assert list(history.steps) == [1, 2, 3, 4, 5]


async def test_clustering_needs_no_target(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "sklearn.kmeans",
        stack.datasets["iris"],
        task=tpb.TASK_TYPE_CLUSTERING,
        params={"n_clusters": 3},
        seed=1,
        output=tpb.ModelOutput(model="iris-kmeans"),
    )
    spec.data.exclude_columns.append("target")
    answered = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert run.metrics["train_silhouette"] > 0.4


async def test_cancel_stops_a_running_job(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec(
        "xgboost.gbdt",
        stack.datasets["cancer"],
        "target",
        params={"n_estimators": 200_000, "learning_rate": 0.001, "early_stopping_rounds": None},
        output=tpb.ModelOutput(model="never-registered"),
    )
    answered = await submit(trainer, stack.project, train=spec)
    await wait_run(stack, stack.project, answered.run_id, (rpb.RUN_STATUS_RUNNING,))
    await asyncio.sleep(1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    cancelled = await trainer.stub.Cancel(
        tpb.CancelRequest(project=stack.project, run_id=answered.run_id, reason="enough"),
        metadata=META,
    )
    assert cancelled.state == tpb.RUN_STATE_CANCELLED
    run = await wait_run(stack, stack.project, answered.run_id)
    assert run.status == rpb.RUN_STATUS_CANCELLED and run.status_reason == "enough"
    # The worker lets go within seconds: its token is gone.
    while answered.run_id in trainer.server.worker.tokens:  # type: ignore[union-attr]
        assert loop.time() - started < 10, "the worker still runs the cancelled job"
        await asyncio.sleep(0.1)
    await refused(
        stack.registry.GetModel(
            rpb.GetModelRequest(project=stack.project, model="never-registered"), metadata=META
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    again = await trainer.stub.Cancel(
        tpb.CancelRequest(project=stack.project, run_id=answered.run_id), metadata=META
    )
    assert again.state == tpb.RUN_STATE_CANCELLED


async def test_idempotent_submit_returns_the_same_run(stack: Stack, trainer: TrainerHandle) -> None:
    spec = train_spec("sklearn.knn", stack.datasets["iris"], "target")
    first = await submit(trainer, stack.project, train=spec, idempotency_key="knn-once")
    second = await submit(trainer, stack.project, train=spec, idempotency_key="knn-once")
    assert first.run_id == second.run_id
    run = await wait_run(stack, stack.project, first.run_id)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert len(run.attempts) == 1


async def test_watch_run_streams_rounds_until_the_model_is_registered(
    stack: Stack, trainer: TrainerHandle
) -> None:
    spec = train_spec(
        "xgboost.gbdt",
        stack.datasets["cancer"],
        "target",
        # Enough rounds to span several progress intervals (0.2 s in these tests).
        params={"n_estimators": 3000, "max_depth": 4, "early_stopping_rounds": None},
        output=tpb.ModelOutput(model="watched"),
    )
    answered = await submit(trainer, stack.project, train=spec)
    updates = [
        update
        async for update in trainer.stub.WatchRun(
            tpb.WatchRunRequest(project=stack.project, run_id=answered.run_id),
            metadata=META,
            timeout=120,
        )
    ]
    assert {u.run_id for u in updates} == {answered.run_id}
    rounds = [u for u in updates if u.phase == tpb.PHASE_FITTING and u.step_unit == "round"]
    assert rounds, [tpb.Phase.Name(u.phase) for u in updates]
    assert all(u.state == tpb.RUN_STATE_RUNNING and u.total_steps == 3000 for u in rounds)
    assert [u.step for u in rounds] == sorted(u.step for u in rounds)
    assert "val_loss" in rounds[-1].metrics
    last = updates[-1]
    assert last.state == tpb.RUN_STATE_FINISHED, last
    assert last.model_version == 1 and last.model_version_id
    # Watching a finished run answers its final state at once; an unknown run is NOT_FOUND.
    again = [
        u
        async for u in trainer.stub.WatchRun(
            tpb.WatchRunRequest(project=stack.project, run_id=answered.run_id),
            metadata=META,
            timeout=10,
        )
    ]
    assert [u.state for u in again] == [tpb.RUN_STATE_FINISHED]
    await refused(
        _drain(
            trainer.stub.WatchRun(
                tpb.WatchRunRequest(project=stack.project, run_id="no-such-run"), metadata=META
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in stream]
