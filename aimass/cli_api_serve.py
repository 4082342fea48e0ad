"""``aimass models|deploy|deployments|predict|lineage``: registered models and aliases,
deployments and rollbacks, predictions on JSON rows, lineage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aimass.cli_api_kit import (
    Column,
    Subparsers,
    UsageError,
    emit,
    enum,
    group,
    leaf,
    pairs,
    say,
    table,
)
from aimass.client import Client

MODEL_COLUMNS: list[Column] = [
    ("name", "name"),
    ("latest", "latest_version"),
    ("aliases", "aliases"),
    ("owner", "owner"),
    ("updated", "updated_at"),
]
MODEL_VERSION_COLUMNS: list[Column] = [
    ("version", "version"),
    ("task", "task"),
    ("framework", "framework"),
    ("format", "artifact_format"),
    ("aliases", "aliases"),
    ("metrics", lambda v: dict(sorted(v.get("metrics", {}).items())[:4])),
    ("created", "created_at"),
]
DEPLOYMENT_COLUMNS: list[Column] = [
    ("name", "name"),
    ("model", "model"),
    (
        "target",
        lambda d: f"alias {d['alias']}" if d.get("alias") else f"version {d.get('version')}",
    ),
    ("serving", "resolved_version"),
    ("revision", "revision"),
    ("status", enum("DEPLOYMENT_STATUS_", "status")),
    ("updated", "updated_at"),
]


# -- models -----------------------------------------------------------------------------------


def add_models(sub: Subparsers) -> None:
    actions = group(sub, "models", "registered models, their versions and aliases")
    leaf(actions, "list", _models_list, "models of a project")
    parser = leaf(actions, "versions", _models_versions, "versions of a model")
    parser.add_argument("model")
    parser = leaf(actions, "alias", _models_alias, "point an alias at a version (or --delete)")
    parser.add_argument("model")
    parser.add_argument("alias")
    parser.add_argument("version", type=int, nargs="?")
    parser.add_argument("--delete", action="store_true")


def _models_list(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.models(args.project), MODEL_COLUMNS)
    return 0


def _models_versions(args: argparse.Namespace, client: Client) -> int:
    versions = client.model_versions(args.project, args.model)
    emit(args, versions, MODEL_VERSION_COLUMNS)
    return 0


def _models_alias(args: argparse.Namespace, client: Client) -> int:
    if args.delete == (args.version is not None):
        raise UsageError("give a VERSION to set the alias, or --delete to remove it")
    if args.delete:
        model = client.delete_alias(args.project, args.model, args.alias)
    else:
        model = client.set_alias(args.project, args.model, args.alias, args.version)
    emit(args, model, MODEL_COLUMNS)
    return 0


# -- deployments ------------------------------------------------------------------------------


def add_deploy(sub: Subparsers) -> None:
    parser = leaf(sub, "deploy", _deploy, "serve a model version, or follow an alias")
    parser.add_argument("name", help="deployment name (what predictions address)")
    parser.add_argument("--model", required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--version", type=int)
    target.add_argument("--alias")
    _config_option(parser)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        nargs="+",
        metavar="KEY=VALUE",
        help="serving config, e.g. max_batch_size=32 timeout_ms=500 canary_version=3",
    )


def _deploy(args: argparse.Namespace, client: Client) -> int:
    deployment = client.deploy(
        args.project,
        args.name,
        args.model,
        version=args.version or 0,
        alias=args.alias or "",
        config=pairs(args.set),
    )
    emit(args, deployment, DEPLOYMENT_COLUMNS)
    return 0


def add_deployments(sub: Subparsers) -> None:
    actions = group(sub, "deployments", "deployments: list, change, roll back")
    leaf(actions, "list", _deployments_list, "deployments of a project")
    parser = leaf(actions, "update", _deployments_update, "move the target or change config")
    parser.add_argument("name")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--version", type=int)
    target.add_argument("--alias")
    _config_option(parser)
    parser = leaf(actions, "rollback", _deployments_rollback, "back to an earlier revision")
    parser.add_argument("name")
    parser.add_argument("--to-revision", type=int, default=0, help="default: the previous one")
    parser = leaf(actions, "revisions", _deployments_revisions, "a deployment's history")
    parser.add_argument("name")


def _deployments_list(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.deployments(args.project), DEPLOYMENT_COLUMNS)
    return 0


def _deployments_update(args: argparse.Namespace, client: Client) -> int:
    config = pairs(args.set) if args.set else None
    if args.version is None and args.alias is None and config is None:
        raise UsageError("nothing to change: give --version, --alias or --set")
    deployment = client.update_deployment(
        args.project, args.name, version=args.version, alias=args.alias, config=config
    )
    emit(args, deployment, DEPLOYMENT_COLUMNS)
    return 0


def _deployments_rollback(args: argparse.Namespace, client: Client) -> int:
    deployment = client.rollback(args.project, args.name, args.to_revision)
    emit(args, deployment, DEPLOYMENT_COLUMNS)
    return 0


def _deployments_revisions(args: argparse.Namespace, client: Client) -> int:
    revisions = client.deployment_revisions(args.project, args.name)
    columns: list[Column] = [
        ("revision", "revision"),
        ("version", "version"),
        ("alias", "alias"),
        ("resolved", "resolved_version"),
        ("actor", "actor"),
        ("created", "created_at"),
    ]
    emit(args, revisions, columns)
    return 0


# -- predict and lineage ----------------------------------------------------------------------


def add_predict(sub: Subparsers) -> None:
    parser = leaf(sub, "predict", _predict, "predict on rows of column -> value")
    parser.add_argument("deployment")
    rows = parser.add_mutually_exclusive_group(required=True)
    rows.add_argument("--rows", help="a JSON list of objects, e.g. '[{\"x\": 1.5}]'")
    rows.add_argument("--file", type=Path, help="a JSON Lines file, one row object per line")
    parser.add_argument("--version", help="a model version number or alias (default: current)")


def read_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        if args.rows is not None:
            rows = json.loads(args.rows)
        else:
            lines = args.file.read_text().splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the rows: {error}") from None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise UsageError("rows are JSON objects of column -> value")
    return rows


def _predict(args: argparse.Namespace, client: Client) -> int:
    answer = client.predict(args.project, args.deployment, read_rows(args), args.version)
    if args.json:
        emit(args, answer)
        return 0
    meta = ("model", "model_version", "prediction_id")
    outputs = {key: value for key, value in answer.items() if key not in meta}
    count = max((len(v) for v in outputs.values() if isinstance(v, list)), default=0)
    rows = [
        {"row": index, **{k: _at(v, index) for k, v in outputs.items()}} for index in range(count)
    ]
    say(table(rows, [("row", "row"), *((name, name) for name in outputs)]))
    say(f"model {answer.get('model')} version {answer.get('model_version')}")
    return 0


def _at(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else None


def add_lineage(sub: Subparsers) -> None:
    parser = leaf(sub, "lineage", _lineage, "what an entity came from, or what it produced")
    parser.add_argument("kind", help="dataset_version, run, model_version, deployment, ...")
    parser.add_argument("id")
    parser.add_argument("--direction", choices=["upstream", "downstream"], default="upstream")
    parser.add_argument("--depth", type=int, default=0)


def _lineage(args: argparse.Namespace, client: Client) -> int:
    graph = client.lineage(args.project, args.kind, args.id, args.direction, args.depth)
    if args.json:
        emit(args, graph)
        return 0
    columns: list[Column] = [
        ("depth", "depth"),
        ("kind", lambda n: str(n.get("entity", {}).get("kind", "")).removeprefix("ENTITY_KIND_")),
        ("label", "label"),
        ("id", lambda n: n.get("entity", {}).get("id")),
    ]
    say(table(sorted(graph.get("nodes", []), key=lambda n: n.get("depth", 0)), columns))
    return 0
