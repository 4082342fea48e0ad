"""``aimass runs``: list, inspect, compare, cancel and follow runs."""

from __future__ import annotations

import argparse
from typing import Any

from aimass.cli_api_kit import Column, Subparsers, emit, enum, group, leaf, say, table, text
from aimass.cli_api_train import follow_run
from aimass.client import Client

RUN_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("kind", "kind"),
    ("status", enum("RUN_STATUS_", "status")),
    ("created", "created_at"),
    ("metrics", lambda run: dict(sorted(run.get("metrics", {}).items())[:4])),
]

# -- runs -------------------------------------------------------------------------------------


def add_runs(sub: Subparsers) -> None:
    actions = group(sub, "runs", "training, tuning and ingest runs")
    parser = leaf(actions, "list", _runs_list, "runs of a project, newest first")
    parser.add_argument("--status", default="", help="e.g. finished, running, failed")
    parser.add_argument("--name-contains", default="")
    parser.add_argument("--limit", type=int, default=50)
    leaf(actions, "show", _runs_show, "one run").add_argument("run_id")
    parser = leaf(actions, "compare", _runs_compare, "params and metrics side by side")
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    parser = leaf(actions, "cancel", _runs_cancel, "stop a queued or running job")
    parser.add_argument("run_id")
    parser.add_argument("--reason", default="")
    parser = leaf(actions, "watch", _runs_watch, "follow a run's progress to its end")
    parser.add_argument("run_id")


def _runs_list(args: argparse.Namespace, client: Client) -> int:
    status = args.status.upper()
    if status and not status.startswith("RUN_STATUS_"):
        status = f"RUN_STATUS_{status}"
    runs = client.runs(args.project, status, args.name_contains, limit=args.limit)
    emit(args, runs, RUN_COLUMNS)
    return 0


def _runs_show(args: argparse.Namespace, client: Client) -> int:
    run = client.run(args.project, args.run_id)
    if args.json:
        emit(args, run)
        return 0
    keys = ("id", "name", "kind", "status", "status_reason", "created_at", "started_at")
    emit(args, {key: run.get(key) for key in (*keys, "ended_at", "parent_run_id", "tags")})
    for title in ("params", "metrics"):
        say(f"\n{title}:")
        say(table(_key_rows(run.get(title, {})), [("name", "name"), ("value", "value")]))
    return 0


def _key_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": key, "value": value} for key, value in sorted(values.items())]


def _runs_compare(args: argparse.Namespace, client: Client) -> int:
    compared = client.compare_runs(args.project, args.run_ids)
    if args.json:
        emit(args, compared)
        return 0
    ids = [run["id"] for run in compared.get("runs", [])]
    columns: list[Column] = [("key", "key")] + [(run_id, run_id) for run_id in ids]
    rows = []
    for section in ("params", "metrics"):
        for key, by_run in sorted(compared.get(section, {}).items()):
            rows.append({"key": f"{section[:-1]} {key}", **by_run})
    say(table(rows, columns))
    return 0


def _runs_cancel(args: argparse.Namespace, client: Client) -> int:
    answer = client.cancel_run(args.project, args.run_id, args.reason)
    if args.json:
        emit(args, answer)
    else:
        say(f"run {args.run_id}: {text(answer.get('state'))}")
    return 0


def _runs_watch(args: argparse.Namespace, client: Client) -> int:
    return follow_run(args, client, args.run_id)
