"""Content hashing: known vectors, streaming forms agree, tree digests are stable and sensitive."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.common.hashing import (
    CHUNK_SIZE,
    Hasher,
    digest_hex,
    hash_async_chunks,
    hash_bytes,
    hash_chunks,
    hash_fileobj,
    hash_path,
    hash_tree,
    is_digest,
    tree_digest,
)

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_known_vectors() -> None:
    assert hash_bytes(b"") == EMPTY
    assert hash_bytes(b"abc") == ABC
    assert hash_chunks([]) == EMPTY
    assert hash_chunks([b"a", b"", b"bc"]) == ABC
    assert hash_fileobj(io.BytesIO(b"abc")) == ABC


def test_hasher_counts_bytes() -> None:
    hasher = Hasher()
    for chunk in (b"a", bytearray(b"b"), memoryview(b"c")):
        hasher.update(chunk)
    assert (hasher.size, hasher.digest()) == (3, ABC)


async def test_async_chunks() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"a", b"b", b"c"):
            yield part

    assert await hash_async_chunks(chunks()) == ABC


def test_all_forms_agree_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    path = tmp_path / "blob"
    path.write_bytes(data)
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert hash_bytes(data) == expected
    assert hash_path(path) == expected
    assert hash_fileobj(io.BytesIO(data), chunk_size=1000) == expected
    assert hash_chunks(data[i : i + 4096] for i in range(0, len(data), 4096)) == expected


def test_hash_path_runs_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big"
    with path.open("wb") as fileobj:
        for _ in range(32):
            fileobj.write(os.urandom(CHUNK_SIZE))
    tracemalloc.start()
    try:
        hash_path(path)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK_SIZE


def test_digest_strings() -> None:
    assert is_digest(ABC)
    assert digest_hex(ABC) == ABC.removeprefix("sha256:")
    for bad in ("", "abc", "sha256:", "sha256:" + "A" * 64, "md5:" + "a" * 64, ABC + "0"):
        assert not is_digest(bad)
        with pytest.raises(ValueError):
            digest_hex(bad)


def _write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


TREE = {"part-0.parquet": b"zero", "part-1.parquet": b"one", "train/part-0.parquet": b"t0"}


def test_tree_digest_is_the_sha256sum_manifest(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "t", TREE)
    manifest = "".join(
        f"{hashlib.sha256(TREE[name]).hexdigest()}  {name}\n" for name in sorted(TREE)
    )
    assert hash_tree(root) == hash_bytes(manifest.encode())


def test_tree_digest_does_not_depend_on_order(tmp_path: Path) -> None:
    forward = _write_tree(tmp_path / "a", TREE)
    backward = _write_tree(tmp_path / "b", dict(reversed(TREE.items())))
    assert hash_tree(forward) == hash_tree(backward)
    digests = {name: hash_bytes(data) for name, data in TREE.items()}
    assert tree_digest(digests) == tree_digest(dict(reversed(digests.items())))
    assert tree_digest(digests) == hash_tree(forward)


def test_tree_digest_ignores_empty_directories(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "t", TREE)
    before = hash_tree(root)
    (root / "empty" / "nested").mkdir(parents=True)
    assert hash_tree(root) == before


def test_tree_digest_changes_with_one_byte_or_one_name(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "t", TREE)
    before = hash_tree(root)
    (root / "part-1.parquet").write_bytes(b"onf")
    changed = hash_tree(root)
    assert changed != before
    (root / "part-1.parquet").write_bytes(b"one")
    assert hash_tree(root) == before
    (root / "part-1.parquet").rename(root / "part-2.parquet")
    assert hash_tree(root) != before


def test_tree_digest_refuses_bad_names() -> None:
    for name in ("", "/abs", "a\nb"):
        with pytest.raises(ValueError):
            tree_digest({name: ABC})
    with pytest.raises(ValueError):
        tree_digest({"a": "not-a-digest"})


def test_hash_tree_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        hash_tree(tmp_path / "missing")
