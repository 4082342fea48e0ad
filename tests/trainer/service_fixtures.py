"""Trainer service component tests: a real registry, a real ingest server that turns scikit-learn's
bundled data sets into dataset versions, real trainer servers on port 0, real NATS (one bus
namespace for the stack), one artifact store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from aimass.ingest.v1 import ingest_pb2 as ipb
from aimass.ingest.v1 import ingest_pb2_grpc
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.registry.v1 import registry_pb2_grpc
from aimass.trainer.v1 import trainer_pb2 as tpb
from aimass.trainer.v1 import trainer_pb2_grpc
from services.common.db import upgrade_database_async
from services.common.store import ArtifactStore
from services.ingest.config import IngestSettings
from services.ingest.server import build_server as build_ingest
from services.trainer.config import TrainerSettings
from services.trainer.library.params import to_param_value
from services.trainer.server import TrainerServer
from services.trainer.server import build_server as build_trainer
from tests.conftest import delete_streams, nats_url
from tests.helpers import registry_settings, serve_registry

ACTOR = "tester"
META = (("x-aimass-actor", ACTOR),)
FINAL = (rpb.RUN_STATUS_FINISHED, rpb.RUN_STATUS_FAILED, rpb.RUN_STATUS_CANCELLED)


@dataclass
class Stack:
    registry: registry_pb2_grpc.RegistryServiceStub
    registry_address: str
    ingest: ingest_pb2_grpc.IngestServiceStub
    store_url: str
    namespace: str
    home: Path
    project: str  # a project holding the datasets below
    # dataset name -> version id: "cancer" (breast cancer, 70/15/15 random split), "diabetes"
    # (80/20 train/test), "iris" (no split)
    datasets: dict[str, str]
    ingest_address: str = ""


@dataclass
class TrainerHandle:
    stub: trainer_pb2_grpc.TrainerServiceStub
    settings: TrainerSettings
    server: TrainerServer
    store: ArtifactStore


def _split(*parts: tuple[str, float], seed: int = 7) -> ipb.SplitSpec:
    return ipb.SplitSpec(
        method=ipb.SPLIT_METHOD_RANDOM,
        parts=[ipb.SplitSpec.Part(name=n, fraction=f) for n, f in parts],
        seed=seed,
    )


async def _ingest(
    stub: ingest_pb2_grpc.IngestServiceStub,
    project: str,
    url: str,
    dataset: str,
    split: ipb.SplitSpec | None,
) -> str:
    recipe = ipb.Recipe(sources=[ipb.Source(alias="data", file=ipb.FileSource(url=url))])
    if split is not None:
        recipe.split.CopyFrom(split)
    job = await stub.CreateIngestJob(
        ipb.CreateIngestJobRequest(
            project=project,
            recipe=recipe,
            target=ipb.IngestTarget(dataset=dataset, create_dataset=True),
        ),
        metadata=META,
        timeout=30,
    )
    for _ in range(600):
        job = await stub.GetIngestJob(
            ipb.GetIngestJobRequest(project=project, job_id=job.id), metadata=META, timeout=10
        )
        if job.state == ipb.INGEST_JOB_STATE_SUCCEEDED:
            return str(job.result.dataset_version_id)
        if job.state in (ipb.INGEST_JOB_STATE_FAILED, ipb.INGEST_JOB_STATE_CANCELLED):
            raise AssertionError(f"ingest of {dataset} failed: {job.error}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"ingest of {dataset} did not finish")


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("trainer-stack")
    data_dir = home / "imports"
    data_dir.mkdir()
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.columns = [c.replace(" ", "_") for c in cancer.columns]
    cancer.to_parquet(data_dir / "cancer.parquet", index=False)
    load_diabetes(as_frame=True, scaled=False).frame.to_parquet(
        data_dir / "diabetes.parquet", index=False
    )
    iris = load_iris(as_frame=True).frame
    iris.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in iris.columns]
    iris.to_parquet(data_dir / "iris.parquet", index=False)
    store_url = (home / "store").as_uri()
    namespace = f"t{uuid.uuid4().hex[:10]}"
    settings = registry_settings(
        home, f"sqlite+aiosqlite:///{home / 'registry.db'}", namespace, store_url=store_url
    )
    async with contextlib.AsyncExitStack() as exit_stack:
        running, _, registry = await serve_registry(exit_stack, settings)
        ingest_settings = IngestSettings(
            home=home,
            ingest_port=0,
            ingest_db_url=f"sqlite+aiosqlite:///{home / 'ingest.db'}",
            store_url=store_url,
            nats_url=nats_url(),
            bus_namespace=namespace,
            metrics_enabled=False,
            grpc_host="127.0.0.1",
            shutdown_grace_seconds=2,
            registry_address=running.address,
            ingest_allowed_url_prefixes=[data_dir.as_uri()],
            ingest_progress_interval_seconds=0.2,
        )
        await upgrade_database_async("ingest", ingest_settings.db_url())
        ingest_server = await build_ingest(ingest_settings, exit_stack)
        channel = grpc.aio.insecure_channel(ingest_server.running.address)
        exit_stack.push_async_callback(channel.close)
        ingest = ingest_pb2_grpc.IngestServiceStub(channel)
        project = f"p-{uuid.uuid4().hex[:10]}"
        await registry.CreateProject(rpb.CreateProjectRequest(name=project), metadata=META)
        datasets = {
            "cancer": await _ingest(
                ingest,
                project,
                (data_dir / "cancer.parquet").as_uri(),
                "cancer",
                _split(("train", 0.7), ("validation", 0.15), ("test", 0.15)),
            ),
            "diabetes": await _ingest(
                ingest,
                project,
                (data_dir / "diabetes.parquet").as_uri(),
                "diabetes",
                _split(("train", 0.8), ("test", 0.2)),
            ),
            "iris": await _ingest(
                ingest, project, (data_dir / "iris.parquet").as_uri(), "iris", None
            ),
        }
        yield Stack(
            registry,
            running.address,
            ingest,
            store_url,
            namespace,
            home,
            project,
            datasets,
            ingest_server.running.address,
        )
    await delete_streams(nats_url(), f"{namespace}_")


def trainer_settings(stack: Stack, home: Path, **overrides: Any) -> TrainerSettings:
    values: dict[str, Any] = {
        "home": home,
        "trainer_port": 0,
        "store_url": stack.store_url,
        "nats_url": nats_url(),
        "bus_namespace": stack.namespace,
        "metrics_enabled": False,
        "grpc_host": "127.0.0.1",
        "shutdown_grace_seconds": 2,
        "registry_address": stack.registry_address,
        "trainer_ack_wait_seconds": 3,
        "trainer_progress_interval_seconds": 0.2,
        "trainer_threads": 1,
        "trainer_study_db_url": f"sqlite+aiosqlite:///{stack.home / 'studies.db'}",
    }
    values.update(overrides)
    return TrainerSettings(**values)


async def start_trainer(
    exit_stack: contextlib.AsyncExitStack, settings: TrainerSettings
) -> TrainerHandle:
    settings.home.mkdir(parents=True, exist_ok=True)
    server = await build_trainer(settings, exit_stack)
    channel = grpc.aio.insecure_channel(server.running.address)
    exit_stack.push_async_callback(channel.close)
    return TrainerHandle(
        trainer_pb2_grpc.TrainerServiceStub(channel),
        settings,
        server,
        ArtifactStore(settings.resolved_store_url()),
    )


@pytest.fixture(scope="session")
async def trainer(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TrainerHandle]:
    settings = trainer_settings(stack, tmp_path_factory.mktemp("trainer"))
    async with contextlib.AsyncExitStack() as exit_stack:
        yield await start_trainer(exit_stack, settings)


StartTrainer = Callable[..., Awaitable[TrainerHandle]]


@pytest.fixture
async def extra_trainer(stack: Stack, tmp_path: Path) -> AsyncIterator[StartTrainer]:
    """More trainer replicas for one test, stopped after it."""
    count = 0
    async with contextlib.AsyncExitStack() as exit_stack:

        async def start(**overrides: Any) -> TrainerHandle:
            nonlocal count
            count += 1
            home = overrides.pop("home", tmp_path / f"trainer-{count}")
            return await start_trainer(exit_stack, trainer_settings(stack, home, **overrides))

        yield start


# ---------------------------------------------------------------------------------------------
# Helpers the tests share


def train_spec(
    algorithm: str, dataset_version_id: str, target: str = "", **fields: Any
) -> tpb.TrainSpec:
    task = fields.pop("task", tpb.TASK_TYPE_CLASSIFICATION)
    params = fields.pop("params", {})
    spec = tpb.TrainSpec(
        algorithm=algorithm,
        task=task,
        data=tpb.DataSpec(dataset_version_id=dataset_version_id, target_column=target),
        **fields,
    )
    for name, value in params.items():
        spec.params[name].CopyFrom(to_param_value(value))
    return spec


async def submit(
    handle: TrainerHandle, project: str, *, timeout: float = 30, **request: Any
) -> tpb.SubmitResponse:
    return await handle.stub.Submit(
        tpb.SubmitRequest(project=project, **request), metadata=META, timeout=timeout
    )


async def wait_run(
    stack: Stack,
    project: str,
    run_id: str,
    statuses: tuple[int, ...] = FINAL,
    deadline: float = 120,
) -> rpb.Run:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        run = await stack.registry.GetRun(
            rpb.GetRunRequest(project=project, id=run_id), metadata=META, timeout=10
        )
        if run.status in statuses:
            return run
        if loop.time() > end:
            raise AssertionError(
                f"run {run_id} still {rpb.RunStatus.Name(run.status)} after {deadline}s: "
                f"{run.status_reason}"
            )
        await asyncio.sleep(0.1)


async def runs_of(stack: Stack, project: str) -> list[rpb.Run]:
    found = await stack.registry.SearchRuns(
        rpb.SearchRequest(project=project), metadata=META, timeout=10
    )
    return list(found.runs)
