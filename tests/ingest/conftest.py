"""Ingest service component tests: a real registry, real ingest servers on port 0 (ingest database
on SQLite and on PostgreSQL), real NATS with a bus namespace per server, a shared artifact store.

Data is scikit-learn's bundled data sets written out as files; nobody here wrote them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.ingest.v1 import ingest_pb2_grpc
from aimass.registry.v1 import registry_pb2 as rpb
from aimass.registry.v1 import registry_pb2_grpc
from services.common.db import upgrade_database_async
from services.common.store import ArtifactStore
from services.ingest.config import IngestSettings
from services.ingest.server import IngestServer
from services.ingest.server import build_server as build_ingest
from tests.conftest import create_pg_database, delete_streams, drop_pg_database, nats_url
from tests.helpers import registry_settings, serve_registry

ACTOR = "tester"
DEADLINE = 60.0
TERMINAL = (
    pb.INGEST_JOB_STATE_SUCCEEDED,
    pb.INGEST_JOB_STATE_FAILED,
    pb.INGEST_JOB_STATE_CANCELLED,
)
META = (("x-aimass-actor", ACTOR),)


@dataclass
class Shared:
    """What every ingest server of the session shares: the registry, the store, the data."""

    registry: registry_pb2_grpc.RegistryServiceStub
    registry_address: str
    store_url: str
    data_dir: Path
    home: Path


@dataclass
class IngestHandle:
    backend: str
    stub: ingest_pb2_grpc.IngestServiceStub
    registry: registry_pb2_grpc.RegistryServiceStub
    settings: IngestSettings
    server: IngestServer
    store: ArtifactStore
    data_dir: Path
    address: str


def _write_datasets(folder: Path) -> None:
    """scikit-learn's bundled tables as files in the allowed import folder."""
    folder.mkdir(parents=True, exist_ok=True)
    load_iris(as_frame=True).frame.to_csv(folder / "iris.csv", index=False)
    load_wine(as_frame=True).frame.to_csv(folder / "wine.csv", index=False)
    load_diabetes(as_frame=True).frame.to_csv(folder / "diabetes.tsv", index=False, sep="\t")
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.to_parquet(folder / "breast_cancer.parquet", index=False)
    cancer.to_json(folder / "breast_cancer.jsonl", orient="records", lines=True)


@pytest.fixture(scope="session")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shared]:
    home = tmp_path_factory.mktemp("ingest-stack")
    data_dir = home / "data"
    _write_datasets(data_dir)
    store_url = (home / "store").as_uri()
    db_url = f"sqlite+aiosqlite:///{home / 'registry.db'}"
    namespace = f"r{uuid.uuid4().hex[:10]}"
    settings = registry_settings(home, db_url, namespace, store_url=store_url)
    async with contextlib.AsyncExitStack() as stack:
        running, _, stub = await serve_registry(stack, settings)
        yield Shared(
            stub,
            running.address,
            store_url,
            data_dir,
            home,
        )
    await delete_streams(nats_url(), f"{namespace}_")


def ingest_settings(shared: Shared, home: Path, db_url: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "home": home,
        "ingest_port": 0,
        "ingest_db_url": db_url,
        "store_url": shared.store_url,
        "nats_url": nats_url(),
        "bus_namespace": f"i{uuid.uuid4().hex[:10]}",
        "metrics_enabled": False,
        "grpc_host": "127.0.0.1",
        "shutdown_grace_seconds": 2,
        "registry_address": shared.registry_address,
        "ingest_allowed_url_prefixes": [shared.data_dir.as_uri()],
        "ingest_ack_wait_seconds": 3,
        "ingest_max_upload_bytes": 20 * 1024 * 1024,
        "ingest_progress_interval_seconds": 0.2,
        "ingest_secret_dirs": [str(home / "secrets")],
        "ingest_gc_interval_seconds": 3600,
    }
    values.update(overrides)
    return IngestSettings(**values)


async def start_ingest(
    stack: contextlib.AsyncExitStack, shared: Shared, settings: IngestSettings, backend: str
) -> IngestHandle:
    settings.home.mkdir(parents=True, exist_ok=True)
    await upgrade_database_async("ingest", settings.db_url())
    server = await build_ingest(settings, stack)
    channel = grpc.aio.insecure_channel(server.running.address)
    stack.push_async_callback(channel.close)
    return IngestHandle(
        backend=backend,
        stub=ingest_pb2_grpc.IngestServiceStub(channel),
        registry=shared.registry,
        settings=settings,
        server=server,
        store=ArtifactStore(shared.store_url),
        data_dir=shared.data_dir,
        address=server.running.address,
    )


async def database_url(backend: str, home: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{home / 'ingest.db'}"
    return await create_pg_database("aimass_ingest")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def ingest(
    request: pytest.FixtureRequest, shared: Shared, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[IngestHandle]:
    home = tmp_path_factory.mktemp(f"ingest-{request.param}")
    db_url = await database_url(request.param, home)
    settings = ingest_settings(shared, home, db_url)
    async with contextlib.AsyncExitStack() as stack:
        yield await start_ingest(stack, shared, settings, request.param)
    await delete_streams(nats_url(), f"{settings.bus_namespace}_")
    if request.param == "postgresql":
        await drop_pg_database(db_url)


StartIngest = Callable[..., Awaitable[IngestHandle]]


@pytest.fixture
async def extra_ingest(
    ingest: IngestHandle, shared: Shared, tmp_path: Path
) -> AsyncIterator[StartIngest]:
    """Start more ingest servers for one test (own database on the session's backend, own bus
    namespace unless given), stopped and cleaned up after it."""
    urls: list[str] = []
    namespaces: list[str] = []
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            home: Path | None = None, db_url: str = "", **overrides: Any
        ) -> IngestHandle:
            home = home or tmp_path / f"ingest-{len(urls)}"
            if not db_url:
                db_url = await database_url(ingest.backend, home)
                urls.append(db_url)
            settings = ingest_settings(shared, home, db_url, **overrides)
            namespaces.append(settings.bus_namespace)
            return await start_ingest(stack, shared, settings, ingest.backend)

        yield start
    for namespace in set(namespaces):
        await delete_streams(nats_url(), f"{namespace}_")
    for url in urls:
        if url.startswith("postgresql"):
            await drop_pg_database(url)


@pytest.fixture
async def project(shared: Shared) -> rpb.Project:
    return await shared.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"p-{uuid.uuid4().hex[:10]}"), metadata=META, timeout=10
    )


# ---------------------------------------------------------------------------------------------
# Helpers the service tests share


def chunks_of(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    handle: IngestHandle, project: str, name: str, data: bytes, **header: Any
) -> pb.Upload:
    async def requests() -> AsyncIterator[pb.UploadFileRequest]:
        yield pb.UploadFileRequest(
            header=pb.UploadFileRequest.Header(project=project, file_name=name, **header)
        )
        for chunk in chunks_of(data):
            yield pb.UploadFileRequest(chunk=chunk)

    return await handle.stub.UploadFile(requests(), metadata=META, timeout=30)


def file_recipe(url_or_upload: str, alias: str = "data", **recipe: Any) -> pb.Recipe:
    source = pb.FileSource(url=url_or_upload)
    if "://" not in url_or_upload:
        source = pb.FileSource(upload_id=url_or_upload)
    return pb.Recipe(sources=[pb.Source(alias=alias, file=source)], **recipe)


async def submit(
    handle: IngestHandle,
    project: str,
    recipe: pb.Recipe,
    dataset: str,
    **target: Any,
) -> pb.IngestJob:
    target.setdefault("create_dataset", True)
    request = pb.CreateIngestJobRequest(
        project=project, recipe=recipe, target=pb.IngestTarget(dataset=dataset, **target)
    )
    return await handle.stub.CreateIngestJob(request, metadata=META, timeout=60)


async def wait_for(
    handle: IngestHandle,
    project: str,
    job_id: str,
    states: tuple[int, ...] = TERMINAL,
    deadline: float = DEADLINE,
) -> pb.IngestJob:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        job = await handle.stub.GetIngestJob(
            pb.GetIngestJobRequest(project=project, job_id=job_id), metadata=META, timeout=10
        )
        if job.state in states:
            return job
        if loop.time() > end:
            raise AssertionError(
                f"job {job_id} still {pb.IngestJobState.Name(job.state)} after {deadline}s: "
                f"{job.progress.message} {job.error}"
            )
        await asyncio.sleep(0.1)


async def run_job(
    handle: IngestHandle, project: str, recipe: pb.Recipe, dataset: str, **target: Any
) -> pb.IngestJob:
    job = await submit(handle, project, recipe, dataset, **target)
    return await wait_for(handle, project, job.id)


async def versions(handle: IngestHandle, project: str, dataset: str) -> list[rpb.DatasetVersion]:
    try:
        found = await handle.registry.ListDatasetVersions(
            rpb.ListVersionsRequest(project=project, parent=dataset), metadata=META, timeout=10
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return []
        raise
    return list(found.versions)


async def stored_keys(handle: IngestHandle, prefix: str) -> list[str]:
    try:
        return await handle.store.list_keys(prefix)
    except Exception:
        return []


def replica_of(handle: IngestHandle, **overrides: Any) -> dict[str, Any]:
    """`extra_ingest` settings for another replica on `handle`'s home, database and bus."""
    settings = handle.settings
    return {
        "home": settings.home,
        "db_url": settings.db_url(),
        "bus_namespace": settings.bus_namespace,
        **overrides,
    }


async def register_as_attempt(
    handle: IngestHandle, project: str, job: pb.IngestJob, dataset: str, prefix: str
) -> rpb.DatasetVersion:
    """What an attempt whose worker died right after registering leaves: a part under `prefix`
    and the dataset version made from it with the job's idempotency key and run."""
    await handle.store.put_bytes(f"{prefix}/part-00000.parquet", b"stand-in for an attempt's part")
    await handle.registry.CreateDataset(
        rpb.CreateDatasetRequest(project=project, name=dataset), metadata=META
    )
    return await handle.registry.CreateDatasetVersion(
        rpb.CreateDatasetVersionRequest(
            project=project,
            dataset=dataset,
            uri=handle.store.prefix_uri(prefix),
            row_count=150,
            producer_run_id=job.run_id,
            idempotency_key=job.id,
        ),
        metadata=META,
    )
