"""xgboost on a Dask cluster through the real service: a trainer that may load only 100 rows
refuses the cancer training split in process, and trains it on a LocalCluster whose workers read
the Parquet parts themselves, from the store; the registered model loads and predicts what the job
evaluated. Below, the cluster-side pieces alone: the partition transform, the evaluation, and the
parts read from an s3:// store (a real S3 API: moto) as from a file:// one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_breast_cancer

from aimass.registry.v1 import registry_pb2 as rpb
from aimass.trainer.v1 import trainer_pb2 as tpb
from services.common.store import ArtifactStore
from services.trainer import data as trainer_data
from services.trainer.dask_data import DaskJob, PartitionEncoder
from services.trainer.data import StoreParts, part_paths, store_parts
from services.trainer.library import evaluation
from services.trainer.library.base import FitOptions, Task
from services.trainer.library.catalog import get_algorithm
from services.trainer.library.model import ModelSpec, TrainingData, fit_model, load_model
from services.trainer.library.preprocessing import feature_columns, resolve_choice
from services.trainer.specs import SPLIT_COLUMN
from tests.conftest import delete_streams, nats_url
from tests.helpers import refused
from tests.trainer.service_fixtures import (
    META,
    Stack,
    StartTrainer,
    submit,
    train_spec,
    wait_run,
)

GBDT = "xgboost.gbdt"
# dask's Parquet reader calls reset_index(inplace=True), deprecated by pandas 3.1; the workers
# run in this process here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The inplace keyword in DataFrame.reset_index:DeprecationWarning"
)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    from distributed import LocalCluster

    # Threads in this process: starts in well under a second, and its workers see this host's
    # files (the file:// store's) as a cluster on the trainer's host would.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    name = f"d{uuid.uuid4().hex[:10]}"
    yield name
    await delete_streams(nats_url(), f"{name}_")


@pytest.mark.integration
async def test_xgboost_trains_on_dask_what_one_trainer_may_not_load(
    stack: Stack,
    extra_trainer: StartTrainer,
    namespace: str,
    dask_cluster: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainer = await extra_trainer(bus_namespace=namespace, trainer_max_rows=100)
    spec = train_spec(
        GBDT,
        stack.datasets["cancer"],
        "target",
        params={"n_estimators": 60, "learning_rate": 0.3, "max_depth": 3},
        seed=3,
    )
    in_process = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, in_process.run_id)
    assert run.status == rpb.RUN_STATUS_FAILED
    assert "AIMASS_TRAINER_MAX_ROWS" in run.status_reason, run.status_reason
    with_cv = tpb.TrainSpec()
    with_cv.CopyFrom(spec)
    with_cv.resources.dask_scheduler_address = dask_cluster
    with_cv.cv.CopyFrom(tpb.CrossValidation(folds=3))
    await refused(
        submit(trainer, stack.project, train=with_cv),
        grpc.StatusCode.INVALID_ARGUMENT,
        "cross-validation does not run on a Dask cluster",
    )

    # On the cluster the workers read the store's files themselves: the trainer downloads nothing.
    async def no_download(*args: object) -> Path:
        raise AssertionError("a job on a Dask cluster downloaded its dataset version")

    monkeypatch.setattr(trainer_data, "download", no_download)
    model_name = f"cancer-dask-{uuid.uuid4().hex[:6]}"
    spec.resources.dask_scheduler_address = dask_cluster
    spec.output.CopyFrom(tpb.ModelOutput(model=model_name))
    on_dask = await submit(trainer, stack.project, train=spec)
    run = await wait_run(stack, stack.project, on_dask.run_id, deadline=60)
    assert run.status == rpb.RUN_STATUS_FINISHED, run.status_reason
    assert run.metrics["test_accuracy"] >= 0.93
    assert run.metrics["validation_accuracy"] >= 0.9
    assert 1 <= run.metrics["fitted_steps"] <= 60
    history = await stack.registry.GetMetricHistory(
        rpb.GetMetricHistoryRequest(project=stack.project, run_id=run.id, key="val_loss"),
        metadata=META,
    )
    assert len(history.steps) >= run.metrics["fitted_steps"]

    # The registered artifact is an ordinary model folder: it predicts the test rows as the job
    # evaluated them on the cluster.
    version = await stack.registry.GetModelVersion(
        rpb.GetModelVersionRequest(project=stack.project, model=model_name), metadata=META
    )
    assert version.source_run_id == run.id and version.framework == "xgboost"
    model_dir = tmp_path / "model"
    await trainer.store.get_tree(trainer.store.key_for(version.artifact_uri), model_dir)
    model = load_model(model_dir, get_algorithm)
    test_rows = await _split_rows(stack, trainer.store, tmp_path / "data", "test")
    predicted = model.predict(test_rows.drop(columns=["target", SPLIT_COLUMN]))
    accuracy = float(np.mean(predicted.predictions == test_rows["target"].to_numpy()))
    assert accuracy == pytest.approx(run.metrics["test_accuracy"])
    document = await _artifact(trainer.store, run, "evaluation-test.json")
    assert document["rows"] == len(test_rows)
    labels = document["confusion_matrix"]["labels"]
    matrix = pd.crosstab(
        pd.Categorical(test_rows["target"], categories=labels),
        pd.Categorical(predicted.predictions, categories=labels),
        dropna=False,
    )
    assert matrix.to_numpy().tolist() == document["confusion_matrix"]["matrix"]


async def _split_rows(stack: Stack, store: object, local: Path, split: str) -> pd.DataFrame:
    from services.common.store import ArtifactStore

    assert isinstance(store, ArtifactStore)
    version = await stack.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=stack.project, id=stack.datasets["cancer"]),
        metadata=META,
    )
    await store.get_tree(store.key_for(version.uri), local)
    frame = pd.concat(pd.read_parquet(p) for p in part_paths(local))
    return frame[frame[SPLIT_COLUMN] == split].reset_index(drop=True)


async def _artifact(store: object, run: rpb.Run, path: str) -> dict:
    from services.common.store import ArtifactStore

    assert isinstance(store, ArtifactStore)
    uri = next(a.uri for a in run.artifacts if a.path == path)
    return dict(json.loads(await store.get_bytes(store.key_for(uri))))


# ---------------------------------------------------------------------------------------------
# The cluster-side pieces, on Parquet parts written here


def _cancer_parts(directory: Path) -> tuple[pd.DataFrame, list[str]]:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["kind"] = (frame["mean_radius"] > 14).map({True: "large", False: None})  # text, gaps
    frame[SPLIT_COLUMN] = np.where(np.arange(len(frame)) % 5 == 0, "test", "train")
    directory.mkdir()
    for index, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(directory / f"part-{index}.parquet", index=False)
    return frame, part_paths(directory)


def _data_spec(frame: pd.DataFrame) -> tpb.DataSpec:
    return tpb.DataSpec(
        target_column="target",
        feature_columns=[c for c in frame.columns if c not in ("target", SPLIT_COLUMN)],
        train_split="train",
        test_split="test",
    )


def _model_spec(job: DaskJob, address: str, **params: Any) -> ModelSpec:
    algorithm = get_algorithm(GBDT)
    return ModelSpec(
        algorithm=algorithm,
        task=Task.CLASSIFICATION,
        params=algorithm.resolve_params({"n_estimators": 30, "max_depth": 3, **params}),
        columns=job.columns,
        preprocessing=resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=False,
            one_hot_by_default=False,
            handles_missing=True,
        ),
        target="target",
        options=FitOptions(seed=4, dask_scheduler_address=address),
    )


def test_the_workers_transform_and_evaluate_as_the_trainer_would(
    dask_cluster: str, tmp_path: Path
) -> None:
    frame, paths = _cancer_parts(tmp_path / "parts")
    data = _data_spec(frame)
    with DaskJob.open(dask_cluster, paths, data) as job:
        model = job.fit(_model_spec(job, dask_cluster), None)
        assert model.classes == [0, 1] and "kind" in " ".join(model.feature_names)
        test = frame[frame[SPLIT_COLUMN] == "test"].reset_index(drop=True)
        # Each worker's transform of its partitions is the model's own, row for row.
        rows = job.rows("test")
        x, y = job.client.compute([rows.x, rows.y], sync=True)
        np.testing.assert_array_equal(x, model.matrix(test))
        np.testing.assert_array_equal(y, test["target"].to_numpy())
        on_cluster = job.evaluate(model, "test", ())
    local = evaluation.evaluate(model, TrainingData(test, test["target"]))
    assert on_cluster.rows == len(test)
    assert on_cluster.metrics == pytest.approx(local.metrics)
    assert on_cluster.artifacts["confusion_matrix"] == local.artifacts["confusion_matrix"]
    assert on_cluster.artifacts["feature_importance"] == local.artifacts["feature_importance"]
    assert on_cluster.metrics["accuracy"] >= 0.9


def test_an_empty_partition_transforms_to_no_rows(tmp_path: Path) -> None:
    frame, paths = _cancer_parts(tmp_path / "parts")
    features = frame.drop(columns=["target", SPLIT_COLUMN])
    algorithm = get_algorithm(GBDT)
    columns = feature_columns(pq.read_schema(paths[0]), list(features.columns))
    spec = ModelSpec(
        algorithm,
        Task.CLASSIFICATION,
        algorithm.resolve_params({"n_estimators": 2}),
        columns,
        resolve_choice(
            tpb.Preprocessing(),
            scale_by_default=False,
            one_hot_by_default=False,
            handles_missing=True,
        ),
        target="target",
    )
    model = fit_model(spec, TrainingData(features, frame["target"]))
    encoder = PartitionEncoder(model, "")
    x, y, weight = encoder.encode(frame.iloc[:0])
    assert x.shape == (0, len(model.feature_names)) and x.dtype == np.float32
    assert y.shape == (0,) and y.dtype == np.int64 and weight is None
    x, y, _ = encoder.encode(frame.iloc[:7])
    np.testing.assert_array_equal(x, model.matrix(frame.iloc[:7]))


# ---------------------------------------------------------------------------------------------
# The parts read straight from the store: s3:// (moto) as file://


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options: dict[str, Any] = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="aimass-dask")
    yield options
    server.stop()


async def _stored_parts(store: ArtifactStore, paths: list[str]) -> StoreParts:
    """The parts put in the store as an ingest would, then located as the runner does."""
    prefix = "datasets/cancer/1"
    for path in paths:
        await store.put_file(f"{prefix}/{Path(path).name}", path)
    await store.put_bytes(f"{prefix}/profile.json", b"{}")  # not a part
    version = rpb.DatasetVersion(dataset="cancer", version=1, uri=store.prefix_uri(prefix))
    return await store_parts(store, version)


def _test_metrics(address: str, parts: StoreParts, data: tpb.DataSpec) -> dict[str, float]:
    with DaskJob.open(address, parts.urls, data, parts.storage_options) as job:
        model = job.fit(_model_spec(job, address, n_estimators=60, learning_rate=0.3), None)
        assert model.classes == [0, 1]
        return job.evaluate(model, "test", ()).metrics


async def test_the_workers_read_the_parts_from_an_s3_store_as_from_a_file_store(
    dask_cluster: str, s3_options: dict[str, Any], tmp_path: Path
) -> None:
    frame, paths = _cancer_parts(tmp_path / "parts")
    data = _data_spec(frame)
    local_store = ArtifactStore((tmp_path / "store").as_uri())
    s3_store = ArtifactStore(f"s3://aimass-dask/{uuid.uuid4().hex[:8]}", storage_options=s3_options)
    on_file = await _stored_parts(local_store, paths)
    on_s3 = await _stored_parts(s3_store, paths)
    # The store's own files (no copy), by their absolute local path; the s3 URIs with the options
    # the store was built with (credentials included).
    store_root = (tmp_path / "store").resolve()
    assert [Path(u).parent for u in on_file.urls] == [store_root / "datasets/cancer/1"] * 3
    assert on_file.storage_options == {}
    assert [u.rsplit("/", 1)[1] for u in on_s3.urls] == [Path(p).name for p in paths]
    assert all(u.startswith(f"{s3_store.url}/datasets/cancer/1/") for u in on_s3.urls)
    assert on_s3.storage_options["endpoint_url"] == s3_options["endpoint_url"]
    assert on_s3.storage_options["secret"] == "testing"

    on_file_metrics = await asyncio.to_thread(_test_metrics, dask_cluster, on_file, data)
    on_s3_metrics = await asyncio.to_thread(_test_metrics, dask_cluster, on_s3, data)
    assert on_s3_metrics["accuracy"] >= 0.93
    assert on_s3_metrics == pytest.approx(on_file_metrics, abs=1e-6)
