"""The committed stubs under aimass/ are exactly what scripts/gen_protos.py makes from protos/.

Regenerates every stub into a temporary folder with the project's own script and compares bytes, so
an edited .proto without regenerated stubs (or a stub whose .proto was removed) fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_protos.py"
STUB_PATTERNS = ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py")
FIX = "run: python scripts/gen_protos.py (and commit the protos and the stubs together)"


def stub_files(base: Path) -> set[Path]:
    """Generated-stub paths under base/aimass, relative to base."""
    package = base / "aimass"
    return {p.relative_to(base) for pattern in STUB_PATTERNS for p in package.rglob(pattern)}


def drift(committed: Path, generated: Path) -> list[str]:
    """Every way the stubs under `committed` differ from freshly `generated` ones."""
    problems: list[str] = []
    fresh = stub_files(generated)
    for rel in sorted(fresh):
        mine = committed / rel
        if not mine.is_file():
            problems.append(f"missing: {rel}")
        elif mine.read_bytes() != (generated / rel).read_bytes():
            problems.append(f"differs: {rel}")
    for rel in sorted(stub_files(committed) - fresh):
        problems.append(f"stale (no .proto makes it): {rel}")
    # Package markers: their content is the SDK's business, but they must exist.
    for marker in sorted(generated.joinpath("aimass").rglob("__init__.py")):
        rel = marker.relative_to(generated)
        if not (committed / rel).is_file():
            problems.append(f"missing: {rel}")
    return problems


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stubs")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"scripts/gen_protos.py failed:\n{result.stdout}\n{result.stderr}\n{FIX}"
    )
    return out


def test_every_proto_has_its_stubs(generated: Path) -> None:
    protos = sorted((ROOT / "protos").rglob("*.proto"))
    assert protos, "no .proto files found under protos/"
    fresh = stub_files(generated)
    for proto in protos:
        stem = proto.relative_to(ROOT / "protos").with_suffix("")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            expected = stem.parent / f"{stem.name}{suffix}"
            assert expected in fresh, f"gen_protos.py made no {expected}"


def test_committed_stubs_match_protos(generated: Path) -> None:
    problems = drift(ROOT, generated)
    assert not problems, "generated stubs are out of date:\n  " + "\n  ".join(problems) + f"\n{FIX}"


def test_drift_check_catches_changes(tmp_path: Path) -> None:
    """The comparison itself reports a changed, a missing and a stale stub."""
    fresh = tmp_path / "fresh" / "aimass" / "x" / "v1"
    mine = tmp_path / "mine" / "aimass" / "x" / "v1"
    fresh.mkdir(parents=True)
    mine.mkdir(parents=True)
    for folder in (fresh, mine):
        for parent in (folder, folder.parent, folder.parent.parent):
            (parent / "__init__.py").touch()
    (fresh / "x_pb2.py").write_bytes(b"a = 1\n")
    (mine / "x_pb2.py").write_bytes(b"a = 2\n")
    (fresh / "x_pb2.pyi").write_bytes(b"a: int\n")
    (mine / "old_pb2_grpc.py").write_bytes(b"")

    problems = drift(tmp_path / "mine", tmp_path / "fresh")

    assert problems == [
        "differs: aimass/x/v1/x_pb2.py",
        "missing: aimass/x/v1/x_pb2.pyi",
        "stale (no .proto makes it): aimass/x/v1/old_pb2_grpc.py",
    ]
    assert drift(tmp_path / "fresh", tmp_path / "fresh") == []
