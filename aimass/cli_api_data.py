"""``aimass projects ...`` and ``aimass datasets ...``: projects, datasets, and importing a file
(upload with a progress bar, then the ingest job followed to its end)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from aimass.cli_api_kit import (
    Column,
    Subparsers,
    UsageError,
    emit,
    enum,
    group,
    leaf,
    say,
    text,
    warn,
)
from aimass.client import Client, ProgressBar, file_recipe
from aimass.client_data import INGEST_FINAL
from aimass.recipe import RecipeError, load_recipe

PROJECT_COLUMNS: list[Column] = [
    ("name", "name"),
    ("description", "description"),
    ("created", "created_at"),
]
DATASET_COLUMNS: list[Column] = [
    ("name", "name"),
    ("project", "project"),
    ("latest", "latest_version"),
    ("visibility", lambda d: str(d.get("sharing", {}).get("visibility", "")).split("_")[-1]),
    ("updated", "updated_at"),
]
VERSION_COLUMNS: list[Column] = [
    ("version", "version"),
    ("rows", "row_count"),
    ("bytes", "size_bytes"),
    ("splits", "split_rows"),
    ("created", "created_at"),
    ("id", "id"),
]


# -- projects ---------------------------------------------------------------------------------


def add_projects(sub: Subparsers) -> None:
    actions = group(sub, "projects", "projects on the gateway")
    parser = leaf(actions, "list", _projects_list, "projects the token can see", project=False)
    parser.add_argument("--name-contains", default="", metavar="TEXT")
    parser = leaf(actions, "create", _projects_create, "create a project", project=False)
    parser.add_argument("name")
    parser.add_argument("--description", default="")
    leaf(actions, "show", _projects_show, "one project")


def _projects_list(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.projects(args.name_contains), PROJECT_COLUMNS)
    return 0


def _projects_create(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.create_project(args.name, args.description), PROJECT_COLUMNS)
    return 0


def _projects_show(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.project(args.project))
    return 0


# -- datasets ---------------------------------------------------------------------------------


def add_datasets(sub: Subparsers) -> None:
    actions = group(sub, "datasets", "datasets, their versions, and importing files")
    parser = leaf(actions, "list", _datasets_list, "datasets of a project")
    parser.add_argument("--name-contains", default="", metavar="TEXT")
    parser.add_argument("--shared", action="store_true", help="also those shared with it")
    parser = leaf(actions, "catalog", _datasets_catalog, "datasets the project may read")
    parser.add_argument("--name-contains", default="", metavar="TEXT")
    parser.add_argument("--owner", default="", metavar="PROJECT", help="one owner's only")
    parser = leaf(actions, "show", _datasets_show, "a dataset and its versions")
    parser.add_argument("dataset")
    parser = leaf(actions, "preview", _datasets_preview, "the first rows of a version")
    parser.add_argument("dataset")
    parser.add_argument("--version", type=int, default=0, help="default: the latest")
    parser.add_argument("--split", default="")
    parser.add_argument("--limit", type=int, default=20)
    parser = leaf(actions, "share", _datasets_share, "make a dataset private, shared or public")
    parser.add_argument("dataset")
    parser.add_argument("visibility", choices=["private", "shared", "public"])
    parser.add_argument("--with", dest="shared_with", nargs="*", default=[], metavar="PROJECT")
    _add_import(actions)


def _datasets_list(args: argparse.Namespace, client: Client) -> int:
    datasets = client.datasets(args.project, args.name_contains, include_shared=args.shared)
    emit(args, datasets, DATASET_COLUMNS)
    return 0


def _datasets_catalog(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.catalog(args.project, args.name_contains, args.owner), DATASET_COLUMNS)
    return 0


def _datasets_show(args: argparse.Namespace, client: Client) -> int:
    dataset = client.dataset(args.project, args.dataset)
    versions = client.dataset_versions(args.project, args.dataset)
    if args.json:
        emit(args, {"dataset": dataset, "versions": versions})
        return 0
    emit(args, dataset, DATASET_COLUMNS)
    say("")
    emit(args, versions, VERSION_COLUMNS)
    return 0


def _datasets_preview(args: argparse.Namespace, client: Client) -> int:
    preview = client.preview(args.project, args.dataset, args.version, args.split, limit=args.limit)
    if args.json:
        emit(args, preview)
        return 0
    names = [field["name"] for field in preview.get("schema", {}).get("fields", [])]
    rows = [dict(zip(names, row, strict=False)) for row in preview.get("rows", [])]
    emit(args, rows, [(name, name) for name in names])
    return 0


def _datasets_share(args: argparse.Namespace, client: Client) -> int:
    answer = client.share(args.project, args.dataset, args.visibility, args.shared_with)
    emit(args, answer)
    return 0


# -- import -----------------------------------------------------------------------------------


def _add_import(actions: Subparsers) -> None:
    parser = leaf(
        actions, "import", _datasets_import, "upload a file and ingest it as a new version"
    )
    parser.add_argument("file", type=Path, help="CSV, TSV, JSONL or Parquet")
    parser.add_argument("--name", required=True, help="dataset name (created when missing)")
    parser.add_argument(
        "--split",
        nargs="+",
        metavar="PART=FRACTION",
        help="e.g. train=0.8 test=0.2 (random unless --split-column)",
    )
    parser.add_argument("--split-column", default="", help="stratify by this column")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", type=Path, help="a recipe file (JSON/YAML) for the upload")
    parser.add_argument("--description", default="")
    parser.add_argument("--no-follow", action="store_true", help="return once the job is queued")


def split_spec(parts: list[str] | None, column: str, seed: int) -> dict[str, Any] | None:
    if not parts:
        return None
    fractions = []
    for part in parts:
        name, sep, raw = part.partition("=")
        try:
            fractions.append({"name": name, "fraction": float(raw)})
        except ValueError:
            raise UsageError(f"--split takes PART=FRACTION, got {part!r}") from None
        if not sep or not name:
            raise UsageError(f"--split takes PART=FRACTION, got {part!r}")
    method = "SPLIT_METHOD_STRATIFIED" if column else "SPLIT_METHOD_RANDOM"
    return {"method": method, "parts": fractions, "seed": str(seed), "column": column}


def import_recipe(args: argparse.Namespace, upload_id: str) -> dict[str, Any]:
    """The recipe file with its first source reading the upload, or a plain file recipe."""
    split = split_spec(args.split, args.split_column, args.seed)
    if args.recipe is None:
        return file_recipe(upload_id, split)
    try:
        recipe = json_format.MessageToDict(
            load_recipe(args.recipe.read_text()), preserving_proto_field_name=True
        )
    except (OSError, RecipeError) as error:
        raise UsageError(f"--recipe {args.recipe}: {error}") from None
    sources = recipe.setdefault("sources", [{"alias": "data"}])
    sources[0].setdefault("file", {})["upload_id"] = upload_id
    sources[0]["file"].pop("url", None)
    if split:
        recipe["split"] = split
    return recipe


def _datasets_import(args: argparse.Namespace, client: Client) -> int:
    if not args.file.is_file():
        raise UsageError(f"{args.file} is not a file")
    upload = client.upload(args.project, args.file, progress=ProgressBar(args.file.name))
    recipe = import_recipe(args, upload["upload_id"])
    job = client.ingest(args.project, args.name, recipe, description=args.description)
    if args.no_follow:
        emit(args, job, [("job", "id"), ("state", enum("INGEST_JOB_STATE_", "state"))])
        return 0
    job = follow_ingest(client, args.project, job)
    if args.json:
        emit(args, job)
    elif job.get("state") == "INGEST_JOB_STATE_SUCCEEDED":
        emit(args, _result_summary(job))
    return 0 if job.get("state") == "INGEST_JOB_STATE_SUCCEEDED" else 1


def follow_ingest(client: Client, project: str, job: dict[str, Any]) -> dict[str, Any]:
    """Progress on stderr until the job ends; the final job."""
    last = ""
    for update in client.watch_ingest(project, job["id"]):
        job = update
        if job.get("state") in INGEST_FINAL:
            break
        line = ingest_line(job)
        if line != last:
            sys.stderr.write(f"\r{line:<78}")
            sys.stderr.flush()
            last = line
    sys.stderr.write("\n")
    if job.get("state") != "INGEST_JOB_STATE_SUCCEEDED":
        reason = job.get("error") or "no reason given"
        warn(f"error: ingest job {job['id']} ended {text(job.get('state'))}: {reason}")
    return job


def ingest_line(job: dict[str, Any]) -> str:
    state = str(job.get("state", "")).removeprefix("INGEST_JOB_STATE_").lower()
    progress = job.get("progress") or {}
    phase = str(progress.get("phase", "")).removeprefix("INGEST_PHASE_").lower()
    if phase == "unspecified":  # a queued job has no phase yet
        phase = ""
    rows = int(progress.get("rows_read") or 0)
    done, total = int(progress.get("bytes_read") or 0), int(progress.get("bytes_total") or 0)
    parts = [f"ingest {state}", phase, f"{rows:,} rows read" if rows else ""]
    parts.append(f"{done / total:.0%}" if total else "")
    return " ".join(part for part in parts if part)


def _result_summary(job: dict[str, Any]) -> dict[str, Any]:
    result = job.get("result") or {}
    return {
        "dataset": job.get("target", {}).get("dataset"),
        "version": result.get("version"),
        "rows": result.get("row_count"),
        "splits": result.get("split_rows"),
        "skipped_rows": result.get("skipped_rows"),
        "version_id": result.get("dataset_version_id"),
        "warnings": result.get("warnings"),
    }
