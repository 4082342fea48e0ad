"""What every gateway subcommand of the CLI shares: the connection options, the client, tables
for people and ``--json`` for scripts, one error handler (exit 1 on an API error, 2 on usage)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from aimass.client import ApiError, Client

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace, Client], int]
Command = Callable[[argparse.Namespace], int]
Getter = str | Callable[[Mapping[str, Any]], Any]
Column = tuple[str, Getter]


class UsageError(Exception):
    """A bad combination of arguments argparse cannot see; exit status 2."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def warn(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def api_options() -> argparse.ArgumentParser:
    """--url, --token and --json, accepted after any gateway subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", help="gateway URL (default $AIMASS_URL or http://127.0.0.1:8000)")
    parent.add_argument(
        "--token",
        help="API token (default $AIMASS_TOKEN, else the local stack's <home>/admin-token)",
    )
    parent.add_argument("--json", action="store_true", help="print the raw JSON answer")
    return parent


def project_options() -> argparse.ArgumentParser:
    """api_options plus -p/--project (default $AIMASS_PROJECT)."""
    parent = argparse.ArgumentParser(add_help=False, parents=[api_options()])
    default = os.environ.get("AIMASS_PROJECT")
    parent.add_argument(
        "-p",
        "--project",
        default=default,
        required=default is None,
        help="project name (default $AIMASS_PROJECT)",
    )
    return parent


def leaf(
    sub: Subparsers, name: str, handler: Handler, help: str, project: bool = True
) -> argparse.ArgumentParser:
    """A subcommand that talks to the gateway."""
    parents = [project_options() if project else api_options()]
    parser = sub.add_parser(name, parents=parents, help=help, description=help)
    parser.set_defaults(func=api_command(handler))
    return parser


def group(sub: Subparsers, name: str, help: str) -> Subparsers:
    """A command with sub-commands of its own (``aimass runs list``)."""
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def api_command(handler: Handler) -> Command:
    """The handler with a client of the gateway; exit status 1 with the message (and request id)
    on stderr for API errors, 2 for usage errors."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            with Client(url=args.url, token=args.token) as client:
                return handler(args, client)
        except ApiError as error:
            warn(f"error: {error}")
            return 1
        except UsageError as error:
            warn(f"usage error: {error}")
            return 2

    return run


# -- output -----------------------------------------------------------------------------------


def emit(args: argparse.Namespace, data: Any, columns: Sequence[Column] | None = None) -> None:
    """``--json``: the data as JSON; otherwise a table of ``data`` (a list, or one object as a
    one-row table when ``columns`` are given, or key/value lines without)."""
    if args.json:
        say(json.dumps(data, indent=2, sort_keys=False))
    elif isinstance(data, list):
        say(table(data, columns or ()))
    elif columns:
        say(table([data], columns))
    else:
        say(key_values(data))


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Aligned columns under upper-case headers; ``(none)`` for no rows."""
    cells = [[header.upper() for header, _ in columns]]
    cells += [[cell(row, getter) for _, getter in columns] for row in rows]
    if len(cells) == 1:
        return "(none)"
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def key_values(data: Mapping[str, Any]) -> str:
    width = max((len(key) for key in data), default=0)
    return "\n".join(f"{key.ljust(width)}  {text(value)}" for key, value in data.items())


def cell(row: Mapping[str, Any], getter: Getter) -> str:
    value = getter(row) if callable(getter) else row.get(getter)
    return text(value)


def text(value: Any) -> str:
    """One value as table text: short timestamps, joined lists, k=v maps, rounded floats."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(text(item) for item in value) or "-"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={text(v)}" for k, v in value.items()) or "-"
    value = str(value)
    if len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return value[:19].replace("T", " ")
    return value


def enum(prefix: str, key: str) -> Callable[[Mapping[str, Any]], str]:
    """A column showing an enum without its prefix (RUN_STATE_FINISHED -> FINISHED)."""
    return lambda row: str(row.get(key) or "").removeprefix(prefix) or "-"


# -- argument values --------------------------------------------------------------------------


def scalar(raw: str) -> Any:
    """A command-line value as JSON when it parses (3, 0.1, true, [1,2], null), else text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def pairs(items: Sequence[str] | None, what: str = "KEY=VALUE") -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``."""
    parsed: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected {what}, got {item!r}")
        parsed[key] = scalar(raw)
    return parsed
