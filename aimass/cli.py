"""The ``aimass`` command line.

Each subcommand is one ``_add_<name>`` function that builds its parser and binds a ``_cmd_<name>``
handler returning the exit status; :data:`COMMANDS` lists them, so a new subcommand is one more
function and one more entry.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from aimass import cli_api
from aimass.local import StackError


def _say(line: str) -> None:
    print(line, flush=True)


def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aimass")
    except PackageNotFoundError:
        import aimass

        return str(getattr(aimass, "__version__", "unknown (not installed)"))


def _home(args: argparse.Namespace) -> Path:
    raw = args.home or os.environ.get("AIMASS_HOME") or ".aimass"
    return Path(raw).expanduser().resolve()


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {text}")
    return int(text)


def _home_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--home",
        metavar="DIR",
        help="local state (databases, store, NATS data, logs); default $AIMASS_HOME or ./.aimass",
    )
    return parent


# -- local stack ------------------------------------------------------------------------------


def _add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "up",
        parents=[_home_option()],
        help="start NATS and every installed service, wait for health",
        description="Start NATS (unless one already answers) and every installed service; "
        "wait until all are healthy, print their addresses, and stay in the foreground until "
        "Ctrl-C (or leave them running with --detach).",
    )
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="only these services")
    parser.add_argument("-d", "--detach", action="store_true", help="return once healthy")
    parser.add_argument(
        "--nats-port",
        type=_port,
        metavar="PORT",
        help="NATS port (default: the port of $AIMASS_NATS_URL, 4222)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=60.0,
        metavar="S",
        help="seconds to wait for health (60)",
    )
    parser.add_argument(
        "--grace",
        type=_positive,
        default=15.0,
        metavar="S",
        help="seconds each process gets to stop (15)",
    )
    parser.set_defaults(func=_cmd_up)


def _cmd_up(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from aimass.local.nats import nats_url, parse_nats_url
    from aimass.local.up import UpOptions, run_up
    from services.common.settings import CommonSettings

    try:
        settings = CommonSettings()
    except ValidationError as exc:
        raise StackError(f"invalid AIMASS_* configuration: {exc}") from exc
    url = settings.nats_url
    if args.nats_port is not None:
        host, _ = parse_nats_url(url)
        url = nats_url(host, args.nats_port)
    options = UpOptions(
        home=_home(args),
        nats_url=url,
        services=tuple(args.services),
        detach=args.detach,
        timeout=args.timeout,
        grace=args.grace,
        metrics_enabled=settings.metrics_enabled,
    )
    return run_up(options, _say, _warn)


def _add_down(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "down", parents=[_home_option()], help="stop the stack that `aimass up` started"
    )
    parser.add_argument(
        "--grace",
        type=_positive,
        default=15.0,
        metavar="S",
        help="seconds each process gets to stop (15)",
    )
    parser.set_defaults(func=_cmd_down)


def _cmd_down(args: argparse.Namespace) -> int:
    from aimass.local.control import run_down

    return run_down(_home(args), args.grace, _say)


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "status",
        parents=[_home_option()],
        help="health of the local stack (exit 0 when everything serves)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace) -> int:
    from aimass.local.control import collect_status

    home = _home(args)
    state, rows = collect_status(home)
    healthy = state is not None and all(row.state == "serving" for row in rows)
    if args.json:
        document = {
            "home": str(home),
            "running": state is not None,
            "healthy": healthy,
            "started_at": state.started_at if state else None,
            "services": [asdict(row) for row in rows],
        }
        _say(json.dumps(document, indent=2))
    elif state is None:
        _say(f"no stack is running from {home}")
    else:
        table = [("SERVICE", "ADDRESS", "PID", "STATE")]
        table += [(r.name, r.address, str(r.pid or "-"), r.state) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            _say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0 if healthy else 1


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "migrate",
        parents=[_home_option()],
        help="upgrade service databases to the latest schema",
        description="Run each service's migrations to head against its database "
        "($AIMASS_<SERVICE>_DB_URL, default SQLite under the home folder).",
    )
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="default: all")
    parser.set_defaults(func=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from aimass.local.control import run_migrate

    return run_migrate(args.services, _home(args), os.environ, _say)


# -- demo -------------------------------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="the end-to-end demo on a running stack",
        description="Real data in, a registered, aliased and deployed model out, with lineage.",
    )
    parser.add_argument(
        "--registry",
        default=os.environ.get("AIMASS_REGISTRY_ADDRESS", "127.0.0.1:50051"),
        help="registry address (default $AIMASS_REGISTRY_ADDRESS or 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--ingest",
        default=os.environ.get("AIMASS_INGEST_ADDRESS", "127.0.0.1:50052"),
        help="ingest address (default $AIMASS_INGEST_ADDRESS or 127.0.0.1:50052)",
    )
    parser.add_argument(
        "--trainer",
        default=os.environ.get("AIMASS_TRAINER_ADDRESS", "127.0.0.1:50053"),
        help="trainer address (default $AIMASS_TRAINER_ADDRESS or 127.0.0.1:50053)",
    )
    parser.add_argument(
        "--predictor",
        default=os.environ.get("AIMASS_PREDICTOR_ADDRESS", "127.0.0.1:50054"),
        help="predictor address (default $AIMASS_PREDICTOR_ADDRESS or 127.0.0.1:50054)",
    )
    parser.add_argument(
        "--gateway",
        default=os.environ.get("AIMASS_URL", "http://127.0.0.1:8000"),
        help="the REST gateway's URL (default $AIMASS_URL or http://127.0.0.1:8000); '' skips "
        "the prediction through it",
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=os.environ.get("AIMASS_HOME", ".aimass"),
        help="the stack's home, where its gateway saved the admin token (default $AIMASS_HOME "
        "or ./.aimass)",
    )
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from aimass.demo import Addresses, run_demo

    addresses = Addresses(
        args.registry,
        args.ingest,
        args.trainer,
        args.predictor,
        args.gateway.rstrip("/"),
        Path(args.home).expanduser(),
    )
    return run_demo(addresses, _say)


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_up,
    _add_down,
    _add_status,
    _add_migrate,
    _add_demo,
    *cli_api.COMMANDS,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimass", description="AI Mass: from raw data to a served, monitored model."
    )
    parser.add_argument("--version", action="version", version=f"aimass {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StackError as exc:
        _warn(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
