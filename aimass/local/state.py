"""``<home>/stack.json``: what ``aimass up`` started, for the processes that report or stop it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aimass.local import StackError

STATE_FILE = "stack.json"
STATE_VERSION = 1


@dataclass(frozen=True)
class Component:
    """One thing the stack runs. ``kind`` is nats, grpc or http; pid is None for a NATS server
    that was already running (the stack uses it but does not own it)."""

    name: str
    kind: str
    address: str
    pid: int | None = None
    create_time: float | None = None
    health_path: str = ""
    metrics: str = ""
    log: str = ""


@dataclass
class StackState:
    home: str
    started_at: str
    nats_url: str
    # Set while a foreground ``aimass up`` runs: ``aimass down`` asks it to stop its children.
    launcher_pid: int | None = None
    launcher_create_time: float | None = None
    components: list[Component] = field(default_factory=list)

    def owned(self) -> list[Component]:
        """Components with a process of ours, in start order."""
        return [c for c in self.components if c.pid is not None and c.create_time is not None]

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported stack file version {data.get('version')!r}")
        components = [Component(**item) for item in data.get("components", [])]
        return cls(
            home=str(data["home"]),
            started_at=str(data["started_at"]),
            nats_url=str(data["nats_url"]),
            launcher_pid=data.get("launcher_pid"),
            launcher_create_time=data.get("launcher_create_time"),
            components=components,
        )


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def write_state(home: Path, state: StackState) -> None:
    """Atomically replace the state file, so a reader never sees half of it."""
    path = state_path(home)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_state(home: Path) -> StackState | None:
    """The recorded stack, or None when there is none; a damaged file is an error."""
    path = state_path(home)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return StackState.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(f"{path} is not a stack file aimass can read ({exc}); remove it") from exc


def remove_state(home: Path) -> None:
    state_path(home).unlink(missing_ok=True)
