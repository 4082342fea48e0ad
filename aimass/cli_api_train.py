"""``aimass algorithms|train|tune``: the algorithm library, and training and tuning jobs submitted
and followed live."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from aimass.cli_api_kit import (
    Column,
    Subparsers,
    UsageError,
    emit,
    enum,
    leaf,
    pairs,
    say,
    scalar,
    table,
)
from aimass.client import Client
from aimass.client_ml import RUN_FINAL, param_value

ALGORITHM_COLUMNS: list[Column] = [
    ("name", "name"),
    ("library", "library"),
    ("tasks", lambda a: [str(t).removeprefix("TASK_TYPE_").lower() for t in a.get("tasks", [])]),
    ("description", lambda a: str(a.get("description", ""))[:60]),
]


def add_algorithms(sub: Subparsers) -> None:
    parser = leaf(sub, "algorithms", _algorithms, "the algorithm library", project=False)
    parser.add_argument("name", nargs="?", help="show one algorithm's hyperparameters")
    parser.add_argument("--task", default="", help="only those for a task, e.g. regression")


def _algorithms(args: argparse.Namespace, client: Client) -> int:
    if not args.name:
        emit(args, client.algorithms(args.task), ALGORITHM_COLUMNS)
        return 0
    algorithm = client.algorithm(args.name)
    if args.json:
        emit(args, algorithm)
        return 0
    say(f"{algorithm['name']}: {algorithm.get('description', '')}")
    columns: list[Column] = [
        ("param", "name"),
        ("type", enum("PARAM_TYPE_", "type")),
        ("default", lambda h: _plain(h.get("default"))),
        ("min", "minimum"),
        ("max", "maximum"),
    ]
    say(table(algorithm.get("hyperparameters", []), columns))
    return 0


# -- train and tune ---------------------------------------------------------------------------


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, help="a TrainSpec / TuneSpec file (JSON or YAML)")
    parser.add_argument("--dataset", help="dataset name (or id, or <project>/<name> if shared)")
    parser.add_argument("--version", type=int, default=0, help="dataset version (0: latest)")
    parser.add_argument("--algorithm", help="e.g. xgboost.gbdt (see `aimass algorithms`)")
    parser.add_argument("--target", help="target column")
    parser.add_argument("--task", help="classification, regression, clustering, ...")
    parser.add_argument("--param", nargs="+", metavar="NAME=VALUE", help="hyperparameters")
    parser.add_argument("--cv", type=int, default=0, metavar="FOLDS", help="cross-validate")
    parser.add_argument("--train-split", default="")
    parser.add_argument("--test-split", default="")
    parser.add_argument("--model", default="", help="register the model under this name")
    parser.add_argument("--alias", nargs="+", default=[], help="aliases for the new version")
    parser.add_argument("--name", default="", help="run name")
    parser.add_argument("--tag", nargs="+", metavar="KEY=VALUE", help="run tags")
    parser.add_argument("--follow", action="store_true", help="follow the run to its end")


def add_train(sub: Subparsers) -> None:
    _job_options(leaf(sub, "train", _train, "submit a training job (and follow it)"))


def add_tune(sub: Subparsers) -> None:
    parser = leaf(sub, "tune", _tune, "submit a hyperparameter search (and follow it)")
    _job_options(parser)
    parser.add_argument(
        "--search",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="NAME=LOW:HIGH[:log], NAME=a,b,c, or NAME (its suggested range)",
    )
    parser.add_argument("--metric", default="", help="objective metric, e.g. roc_auc")
    parser.add_argument("--direction", choices=["minimize", "maximize"])
    parser.add_argument("--trials", type=int, default=0)
    parser.add_argument("--parallelism", type=int, default=0)


def load_spec(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"--spec {path}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--spec {path}: expected a mapping")
    return data


def train_spec(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """A TrainSpec: the file's, overridden by the flags given."""
    spec = dict(base)
    data = dict(spec.get("data", {}))
    for key, value in (
        ("dataset", args.dataset),
        ("version", str(args.version) if args.version else None),
        ("target_column", args.target),
        ("train_split", args.train_split),
        ("test_split", args.test_split),
    ):
        if value:
            data[key] = value
    spec["data"] = data
    if args.algorithm:
        spec["algorithm"] = args.algorithm
    if args.task:
        spec["task"] = "TASK_TYPE_" + args.task.upper().replace("-", "_")
    spec["params"] = {**spec.get("params", {}), **pairs(args.param, "NAME=VALUE")}
    if args.cv:
        spec["cv"] = {**spec.get("cv", {}), "folds": args.cv}
    if args.model or args.alias:
        spec["output"] = {**spec.get("output", {}), "model": args.model, "aliases": args.alias}
    if not spec.get("algorithm") or not data.get("dataset") and not data.get("dataset_version_id"):
        raise UsageError("name --algorithm and --dataset (or give them in --spec)")
    return spec


def _train(args: argparse.Namespace, client: Client) -> int:
    spec = train_spec(args, load_spec(args.spec))
    tags = {k: str(v) for k, v in pairs(args.tag).items()}
    submitted = client.train(args.project, spec, run_name=args.name, tags=tags)
    return _submitted(args, client, submitted)


def _tune(args: argparse.Namespace, client: Client) -> int:
    tune = load_spec(args.spec)
    tune["base"] = train_spec(args, tune.get("base", {}))
    searched = [search_param(item) for item in args.search]
    if searched:
        tune["search_space"] = {"params": searched}
    if args.metric or args.direction:
        direction = f"DIRECTION_{args.direction.upper()}" if args.direction else None
        objective = {"metric": args.metric, "direction": direction}
        tune["objective"] = {
            **tune.get("objective", {}),
            **{k: v for k, v in objective.items() if v},
        }
    budget = {"max_trials": args.trials, "parallelism": args.parallelism}
    tune["budget"] = {**tune.get("budget", {}), **{k: v for k, v in budget.items() if v}}
    tags = {k: str(v) for k, v in pairs(args.tag).items()}
    submitted = client.tune(args.project, tune, run_name=args.name, tags=tags)
    return _submitted(args, client, submitted)


def search_param(item: str) -> dict[str, Any]:
    """``n=2:10`` an int range, ``lr=0.001:0.3:log`` a float range, ``k=a,b`` categorical."""
    name, sep, raw = item.partition("=")
    if not sep:
        return {"name": name}
    if ":" in raw:
        low, _, rest = raw.partition(":")
        high, _, flag = rest.partition(":")
        bounds = [_number(low, item), _number(high, item)]
        kind = "int_range" if all(isinstance(b, int) for b in bounds) else "float_range"
        values = [str(b) for b in bounds] if kind == "int_range" else bounds
        return {"name": name, kind: {"low": values[0], "high": values[1], "log": flag == "log"}}
    choices = [param_value(scalar(value)) for value in raw.split(",")]
    return {"name": name, "categorical": {"choices": choices}}


def _number(raw: str, item: str) -> int | float:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    raise UsageError(f"--search {item!r}: {raw!r} is not a number")


def _submitted(args: argparse.Namespace, client: Client, submitted: dict[str, Any]) -> int:
    run_id = submitted["run_id"]
    if not args.follow:
        emit(args, submitted if args.json else {"run_id": run_id})
        return 0
    if not args.json:
        say(f"run {run_id} submitted")
    return follow_run(args, client, run_id)


def follow_run(args: argparse.Namespace, client: Client, run_id: str) -> int:
    """A line per update (JSON lines with --json); exit 0 when the run finishes."""
    state = ""
    for progress in client.watch_run(args.project, run_id, include_trials=True):
        state = str(progress.get("state", ""))
        say(json.dumps(progress) if args.json else run_line(progress))
        if state in RUN_FINAL:
            break
    return 0 if state == "RUN_STATE_FINISHED" else 1


def run_line(progress: dict[str, Any]) -> str:
    state = str(progress.get("state", "")).removeprefix("RUN_STATE_").lower()
    phase = str(progress.get("phase", "")).removeprefix("PHASE_").lower().replace("_", " ")
    parts = [state, phase]
    step, total = int(progress.get("step") or 0), int(progress.get("total_steps") or 0)
    if step:
        parts.append(f"{progress.get('step_unit') or 'step'} {step}/{total or '?'}")
    parts += [f"{k}={v:.4g}" for k, v in sorted(progress.get("metrics", {}).items())]
    best = progress.get("best_trial") or {}
    if "value" in best:
        parts.append(f"best trial {best.get('number', 0)}={best['value']:.4g}")
    if progress.get("model_version"):
        parts.append(f"model version {progress['model_version']}")
    for key in ("message", "error"):
        if progress.get(key):
            parts.append(str(progress[key]))
    return "  ".join(part for part in parts if part)


def _plain(value: Any) -> Any:
    """A ParamValue as its plain value, for tables."""
    if not isinstance(value, dict) or not value:
        return value
    kind, inner = next(iter(value.items()))
    if kind == "list_value":
        return [_plain(item) for item in inner.get("values", [])]
    return None if kind == "null_value" else inner
