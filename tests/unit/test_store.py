"""The artifact store, one suite run on file:// (tmp_path) and on s3:// (a real moto server)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common import store_io
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.common.hashing import CHUNK_SIZE, hash_bytes, hash_tree
from services.common.settings import CommonSettings
from services.common.store import ArtifactStore, Stage, blob_key, s3_options_from_env
from services.common.store_keys import STAGING, new_staging_key

MiB = CHUNK_SIZE
CREDENTIALS = {"key": "testing", "secret": "testing"}


@dataclass
class Backend:
    kind: str
    store: ArtifactStore
    tmp: Path
    s3: Any = None  # boto3 client for the s3 backend
    bucket: str = ""

    def flushed(self) -> int:
        """Bytes of in-flight writes that already left the process (temp files, uploaded parts)."""
        if self.kind == "file":
            staging = self.tmp / "store" / STAGING
            return sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return sum(
            part["Size"]
            for upload in uploads
            for part in self.s3.list_parts(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            ).get("Parts", [])
        )

    def pending_uploads(self) -> int:
        if self.kind == "file":
            return 0
        return len(self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _s3_options(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, **CREDENTIALS, "client_kwargs": {"region_name": "us-east-1"}}


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        return Backend("file", ArtifactStore((tmp_path / "store").as_uri()), tmp_path)
    endpoint = request.getfixturevalue("moto_endpoint")
    client = request.getfixturevalue("s3_client")
    bucket = f"aimass-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    store = ArtifactStore(f"s3://{bucket}/root", storage_options=_s3_options(endpoint))
    return Backend("s3", store, tmp_path, client, bucket)


async def _no_staging_left(backend: Backend) -> None:
    assert await backend.store.list_orphans(timedelta(0)) == []
    assert backend.pending_uploads() == 0


# --- single objects ---


async def test_put_get_exists_size_list(backend: Backend) -> None:
    store = backend.store
    result = await store.put_bytes("runs/r1/metrics.json", b"{}")
    assert result.key == "runs/r1/metrics.json"
    assert result.uri == store.uri("runs/r1/metrics.json")
    assert (result.size, result.digest) == (2, hash_bytes(b"{}"))
    await store.put_bytes("runs/r1/plots/roc.json", b"[1]")
    await store.put_bytes("runs/r10/x", b"")
    assert await store.get_bytes("runs/r1/metrics.json") == b"{}"
    assert await store.exists("runs/r1/metrics.json")
    assert not await store.exists("runs/r1")  # a prefix is not an object
    assert not await store.exists("runs/r2/metrics.json")
    assert await store.size("runs/r1/plots/roc.json") == 3
    assert await store.size("runs/r10/x") == 0
    assert await store.digest("runs/r1/metrics.json") == hash_bytes(b"{}")
    assert await store.list_keys("runs/r1") == ["runs/r1/metrics.json", "runs/r1/plots/roc.json"]
    assert await store.list_keys("runs/r1/") == await store.list_keys("runs/r1")
    assert await store.list_keys("nothing/here") == []
    assert await store.list_keys() == [
        "runs/r1/metrics.json",
        "runs/r1/plots/roc.json",
        "runs/r10/x",
    ]


async def test_missing_objects_are_not_found(backend: Backend) -> None:
    store = backend.store
    for call in (store.get_bytes, store.size, store.digest):
        with pytest.raises(NotFound):
            await call("models/m/1/model.json")
    with pytest.raises(NotFound):
        await store.get_file("models/m/1/model.json", backend.tmp / "out")
    assert not (backend.tmp / "out").exists()


async def test_overwrite_is_refused_and_identical_retry_accepted(backend: Backend) -> None:
    store = backend.store
    first = await store.put_bytes("models/m/1/model.json", b"v1")
    again = await store.put_bytes("models/m/1/model.json", b"v1")
    assert again == first
    with pytest.raises(AlreadyExists, match="models/m/1/model.json"):
        await store.put_bytes("models/m/1/model.json", b"v2")
    with pytest.raises(AlreadyExists):
        await store.put_stream("models/m/1/model.json", iter([b"v", b"1", b"!"]))
    assert await store.get_bytes("models/m/1/model.json") == b"v1"
    await _no_staging_left(backend)


async def test_concurrent_writers_of_one_key_never_overwrite(backend: Backend) -> None:
    store = backend.store
    payloads = [bytes([i]) * 1000 for i in range(6)]
    results = await asyncio.gather(
        *(store.put_bytes("runs/race/out", data) for data in payloads), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if r not in winners)
    assert await store.digest("runs/race/out") == winners[0].digest
    await _no_staging_left(backend)


def test_racing_writers_are_arbitrated_by_the_backend(backend: Backend) -> None:
    # both writers find the key absent; link(2) or S3's If-None-Match must pick one
    root, fs = backend.store._root, backend.store._fs
    for size in (10, 12 * MiB):  # a single PUT and a multipart upload on s3
        key = f"runs/race/{size}"
        first, second = (store_io.open_writer(fs, root, key) for _ in range(2))
        first.write(b"a" * size)
        second.write(b"b" * size)
        first.finish()
        with pytest.raises(AlreadyExists, match="other content"):
            second.finish()
        second.abort()
    assert backend.pending_uploads() == 0


async def test_put_file_get_file_and_streamed_read(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(2 * MiB + 123)
    source = backend.tmp / "source.bin"
    source.write_bytes(data)
    result = await store.put_file("models/m/2/weights.safetensors", source)
    assert (result.size, result.digest) == (len(data), hash_bytes(data))
    target = backend.tmp / "dl" / "weights.safetensors"
    await store.get_file("models/m/2/weights.safetensors", target)
    assert target.read_bytes() == data
    chunks = [c async for c in store.iter_bytes("models/m/2/weights.safetensors", 512 * 1024)]
    assert b"".join(chunks) == data and max(map(len, chunks)) <= 512 * 1024
    with store.open_read("models/m/2/weights.safetensors") as fileobj:
        fileobj.seek(len(data) - 3)
        assert fileobj.read() == data[-3:]
    with pytest.raises(InvalidArgument, match="no such local file"):
        await store.put_file("models/m/2/other", backend.tmp / "missing.bin")


# --- streaming and atomicity ---


def _chunks(
    count: int, probe: Backend | None = None, seen: list[int] | None = None
) -> Iterator[bytes]:
    for index in range(count):
        if probe is not None and seen is not None and index == count - 4:
            seen.append(probe.flushed())
        yield bytes([index % 256]) * MiB


async def test_streamed_put_leaves_the_process_as_it_goes(backend: Backend) -> None:
    seen: list[int] = []
    result = await backend.store.put_stream("datasets/big/1/part-0.bin", _chunks(24, backend, seen))
    assert result.size == 24 * MiB
    assert result.digest == hash_bytes(b"".join(_chunks(24)))
    assert await backend.store.size("datasets/big/1/part-0.bin") == 24 * MiB
    # 20 MiB had been handed over: most of it must already be on disk / uploaded, not buffered
    assert seen and seen[0] >= 8 * MiB
    await _no_staging_left(backend)


async def test_async_iterator_put(backend: Backend) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(10 * 64):  # small chunks are gathered before each thread hop
            yield bytes([index % 256]) * (16 * 1024)
            await asyncio.sleep(0)

    result = await backend.store.put_stream("datasets/a/1/part-0.bin", chunks())
    expected = b"".join(bytes([i % 256]) * (16 * 1024) for i in range(640))
    assert (result.size, result.digest) == (len(expected), hash_bytes(expected))
    assert await backend.store.get_bytes("datasets/a/1/part-0.bin") == expected


async def test_streamed_put_memory_is_bounded(tmp_path: Path) -> None:
    store = ArtifactStore((tmp_path / "store").as_uri())

    async def async_chunks() -> AsyncIterator[bytes]:
        for chunk in _chunks(32):
            yield chunk

    tracemalloc.start()
    try:
        await store.put_stream("datasets/big/1/part-0.bin", _chunks(32))
        await store.put_stream("datasets/big/1/part-1.bin", async_chunks())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB  # 64 MiB went through


class Boom(Exception):
    pass


def _failing_chunks(fail_at: int) -> Iterator[bytes]:
    for index in range(fail_at):
        yield bytes([index]) * MiB
    raise Boom("source broke")


async def test_failing_iterator_leaves_nothing_visible(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(Boom):
        await store.put_stream("datasets/d/1/part-0.bin", _failing_chunks(12))  # multipart on s3

    async def failing_async() -> AsyncIterator[bytes]:
        yield b"x" * MiB
        raise Boom("async source broke")

    with pytest.raises(Boom):
        await store.put_stream("datasets/d/1/part-1.bin", failing_async())
    assert await store.list_keys() == []
    assert not await store.exists("datasets/d/1/part-0.bin")
    await _no_staging_left(backend)


async def test_cancelled_put_leaves_nothing_visible(backend: Backend) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * MiB
        started.set()
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(backend.store.put_stream("runs/c/out.bin", slow()))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await backend.store.exists("runs/c/out.bin")
    await _no_staging_left(backend)


# --- content addressing ---


async def test_blobs_are_deduplicated(backend: Backend) -> None:
    store = backend.store
    first = await store.put_blob(b"same bytes")
    second = await store.put_blob(b"same bytes")
    assert first == second
    assert first.key == blob_key(hash_bytes(b"same bytes"))
    assert first.key.startswith("blobs/sha256/" + first.digest[7:9] + "/")
    other = await store.put_blob(b"other bytes")
    streamed = await store.put_blob_stream(iter([b"same ", b"bytes"]))
    assert streamed == first
    assert await store.list_keys("blobs") == sorted([first.key, other.key])
    assert await store.get_bytes(first.key) == b"same bytes"
    await _no_staging_left(backend)


# --- staged multi-file writes ---


async def test_staged_commit_publishes_all_parts(backend: Backend) -> None:
    store = backend.store
    parts = {"part-00000.parquet": b"a" * 100, "part-00001.parquet": b"b" * 200}
    async with store.staged("datasets/iris/1") as stage:
        for name, data in parts.items():
            written = await stage.put_bytes(name, data)
            assert written.key == f"datasets/iris/1/{name}"
        await stage.put_stream("splits/train.parquet", iter([b"t" * 10]))
        assert await store.list_keys("datasets/iris") == []  # nothing visible before commit
        tree = await stage.commit()
    assert await store.list_keys("datasets/iris/1") == [
        "datasets/iris/1/part-00000.parquet",
        "datasets/iris/1/part-00001.parquet",
        "datasets/iris/1/splits/train.parquet",
    ]
    assert tree.uri == store.prefix_uri("datasets/iris/1") and tree.size == 310
    assert [f.key for f in tree.files] == await store.list_keys("datasets/iris/1")
    assert tree.digest == await store.tree_digest("datasets/iris/1")
    local = backend.tmp / "copy"
    assert await store.get_tree("datasets/iris/1", local) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "splits/train.parquet",
    ]
    assert hash_tree(local) == tree.digest
    with pytest.raises(FailedPrecondition):
        await stage.put_bytes("late.parquet", b"x")
    await _no_staging_left(backend)


async def test_staged_rollback_on_error_and_without_commit(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(Boom):
        async with store.staged("datasets/iris/2") as stage:
            await stage.put_bytes("part-0.parquet", b"x")
            raise Boom("transform failed")
    async with store.staged("datasets/iris/3") as stage:
        await stage.put_bytes("part-0.parquet", b"x")
    assert await store.list_keys() == []
    await _no_staging_left(backend)


async def test_staged_rollback_on_cancel(backend: Backend) -> None:
    store = backend.store
    written = asyncio.Event()

    async def ingest() -> None:
        async with store.staged("datasets/iris/4") as stage:
            await stage.put_bytes("part-0.parquet", b"x")
            written.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(ingest())
    await asyncio.wait_for(written.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.list_keys() == []
    await _no_staging_left(backend)


async def test_commit_onto_an_existing_prefix(backend: Backend) -> None:
    store = backend.store
    first = await store.put_tree("models/m/1", _local_tree(backend.tmp / "v1", b"weights"))
    again = await store.put_tree("models/m/1", _local_tree(backend.tmp / "v1b", b"weights"))
    assert again.digest == first.digest
    with pytest.raises(AlreadyExists):
        await store.put_tree("models/m/1", _local_tree(backend.tmp / "v2", b"other"))
    with pytest.raises(AlreadyExists):
        async with store.staged("models/m/1") as stage:
            await stage.put_bytes("model.json", b"{}")  # a subset with the same name
            await stage.put_bytes("extra.json", b"{}")
            await stage.commit()
    assert await store.tree_digest("models/m/1") == first.digest
    with pytest.raises(FailedPrecondition, match="nothing was staged"):
        async with store.staged("models/m/2") as stage:
            await stage.commit()
    await _no_staging_left(backend)


async def test_put_tree_needs_a_directory(backend: Backend) -> None:
    with pytest.raises(InvalidArgument, match="not a local directory"):
        await backend.store.put_tree("models/m/1", backend.tmp / "missing")
    with pytest.raises(NotFound):
        await backend.store.tree_digest("models/m/1")


def _local_tree(root: Path, weights: bytes) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "model.json").write_bytes(b"{}")
    (root / "sub" / "weights.bin").write_bytes(weights)
    return root


async def test_orphaned_stages_are_collected(backend: Backend) -> None:
    store = backend.store
    crashed = Stage(store, "datasets/x/1", new_staging_key(now=time.time() - 7200))
    await crashed.put_bytes("part-0.parquet", b"x")  # its writer "died": never committed
    live = Stage(store, "datasets/x/2", new_staging_key())
    await live.put_bytes("part-0.parquet", b"y")
    assert await store.list_orphans(timedelta(hours=1)) == [crashed.staging_key]
    assert await store.cleanup_staging(timedelta(hours=1)) == [crashed.staging_key]
    assert await store.list_orphans(timedelta(hours=1)) == []
    assert await store.list_orphans(timedelta(0)) == [live.staging_key]
    assert await store.list_keys() == []  # staging is never listed
    await live.commit()
    assert await store.list_keys() == ["datasets/x/2/part-0.parquet"]
    with pytest.raises(InvalidArgument):
        await store.list_orphans(timedelta(seconds=-1))


# --- deletion ---


async def test_delete_prefix(backend: Backend) -> None:
    store = backend.store
    for key in ("models/m/1/a", "models/m/1/sub/b", "models/m/10/a", "models/m/2/a"):
        await store.put_bytes(key, b"x")
    assert await store.delete_prefix("models/m/1") == 2
    assert await store.list_keys() == ["models/m/10/a", "models/m/2/a"]
    assert await store.delete_prefix("models/m/1") == 0
    assert await store.delete("models/m/2/a")
    assert not await store.delete("models/m/2/a")
    for prefix in ("", "/", STAGING, "../models", "models/../.."):
        with pytest.raises(InvalidArgument):
            await store.delete_prefix(prefix)
    assert await store.list_keys() == ["models/m/10/a"]
    if backend.kind == "file":
        assert not (backend.tmp / "store" / "models" / "m" / "1").exists()


# --- keys and URIs ---

BAD_KEYS = [
    "",
    "../x",
    "a/../b",
    "a/./b",
    "/abs",
    "a//b",
    "a/",
    "a\\b",
    "C:\\x",
    ".hidden",
    "a/b c",
    "a\x00b",
    "a?b",
    "a#b",
    "a%2fb",
    f"{STAGING}/x",
    "x" * 2000,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(backend: Backend, key: str) -> None:
    store = backend.store
    with pytest.raises(InvalidArgument):
        await store.put_bytes(key, b"x")
    with pytest.raises(InvalidArgument):
        store.uri(key)
    for call in (store.get_bytes, store.exists, store.delete):
        with pytest.raises(InvalidArgument):
            await call(key)
    assert await store.list_keys() == []


async def test_uris_round_trip_and_stay_inside(backend: Backend) -> None:
    store = backend.store
    key = "datasets/iris/1/part-00000.parquet"
    uri = store.uri(key)
    assert uri.startswith(store.url + "/") and store.key_for(uri) == key and store.contains(uri)
    root = store.url
    outside = [
        root,
        root + "/",
        root + "x/a",  # a sibling whose name starts like the root
        root + "/../etc/passwd",
        root + "/a/%2e%2e/%2e%2e/b",
        root + "/a?versionId=1",
        root + f"/{STAGING}/x",
        "file:///etc/passwd",
        "s3://another-bucket/root/a",
        "http://example.com/a",
        "datasets/iris/1",
        "",
    ]
    for other in outside:
        assert not store.contains(other), other
        with pytest.raises(InvalidArgument):
            store.key_for(other)


def test_file_store_root_with_special_characters(tmp_path: Path) -> None:
    root = tmp_path / "my store#1"
    store = ArtifactStore(root.as_uri())
    uri = store.uri("runs/r/a")
    assert uri == (root / "runs" / "r" / "a").as_uri()
    assert store.key_for(uri) == "runs/r/a"
    assert ArtifactStore(str(root)).url == store.url


@pytest.mark.parametrize(
    "url",
    ["file:///", "gs://bucket/x", "s3://", "s3://B_ad/x", "s3://bucket/../x", "file://host/x", ""],
)
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(InvalidArgument):
        ArtifactStore(url)


async def test_unreachable_s3_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = _s3_options(f"http://127.0.0.1:{port}")
    options["config_kwargs"] = {"retries": {"max_attempts": 1}}
    store = ArtifactStore("s3://bucket/root", storage_options=options)
    for call in (
        store.exists("a/b"),
        store.put_bytes("a/b", b"x"),
        store.get_bytes("a/b"),
        store.list_keys("a"),
        store.check(),
    ):
        with pytest.raises(Unavailable):
            await call


# --- construction ---


async def test_from_settings_defaults_to_home(tmp_path: Path) -> None:
    store = ArtifactStore.from_settings(CommonSettings(home=tmp_path))
    assert store.url == (tmp_path / "store").resolve().as_uri()
    await store.check()
    assert (tmp_path / "store").is_dir()


async def test_from_settings_s3_with_endpoint_from_env(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, s3_client: Any
) -> None:
    bucket = f"aimass-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("AIMASS_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert s3_options_from_env() == {"endpoint_url": moto_endpoint}
    store = ArtifactStore.from_settings(CommonSettings(store_url=f"s3://{bucket}/aimass"))
    await store.check()
    await store.put_bytes("runs/r/x", b"1")
    assert s3_client.get_object(Bucket=bucket, Key="aimass/runs/r/x")["Body"].read() == b"1"
    missing = ArtifactStore("s3://no-such-bucket-here", storage_options=_s3_options(moto_endpoint))
    with pytest.raises(Exception, match="does not exist"):
        await missing.check()
