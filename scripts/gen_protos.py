"""The one code generation entry point: protos/**/*.proto -> aimass/**/*_pb2{,_grpc}.py(i).

Usage: python scripts/gen_protos.py [--out DIR]   (DIR defaults to the repository root)
tests/unit/test_proto_drift.py runs this into a temporary folder and fails when the committed
stubs differ, so edit a .proto, run this script, and commit both.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out: Path) -> None:
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    for proto in files:
        package_dir = (out / proto).parent
        while package_dir != out and package_dir.is_relative_to(out):
            (package_dir / "__init__.py").touch()
            package_dir = package_dir.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT)
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    generate(options.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
