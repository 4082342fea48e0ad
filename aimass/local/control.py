"""``aimass down``, ``aimass status`` and ``aimass migrate``: work on a stack from the outside."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from aimass.local import Say, StackError
from aimass.local.health import check_component
from aimass.local.procs import live_process, stop_process, wait_gone
from aimass.local.specs import ServiceSpec, select_services
from aimass.local.state import StackState, read_state, remove_state

# ``aimass up`` in the foreground stops its children one by one; give it time for each.
_LAUNCHER_EXTRA_WAIT_S = 10.0


def _launcher(state: StackState) -> psutil.Process | None:
    if state.launcher_pid is None or state.launcher_create_time is None:
        return None
    return live_process(state.launcher_pid, state.launcher_create_time)


def _running(state: StackState) -> bool:
    if _launcher(state) is not None:
        return True
    return any(
        live_process(c.pid, c.create_time) is not None
        for c in state.owned()
        if c.pid is not None and c.create_time is not None
    )


def ensure_not_running(home: Path) -> None:
    """Refuse to start a second stack from the same home; forget a stale record."""
    state = read_state(home)
    if state is None:
        return
    if _running(state):
        raise StackError(
            f"a stack started at {state.started_at} is still running from {home}; "
            f"stop it first with `aimass down --home {home}`"
        )
    remove_state(home)


def run_down(home: Path, grace: float, say: Say) -> int:
    """Stop what ``aimass up`` started from ``home``: SIGTERM, ``grace`` seconds, SIGKILL."""
    state = read_state(home)
    if state is None:
        say(f"no stack is running from {home}")
        return 0
    launcher = _launcher(state)
    if launcher is not None:
        say(f"asking `aimass up` (pid {launcher.pid}) to stop its stack")
        with contextlib.suppress(psutil.Error):
            launcher.send_signal(signal.SIGTERM)
        wait_gone([launcher], grace * len(state.owned()) + _LAUNCHER_EXTRA_WAIT_S)
    for component in reversed(state.owned()):
        assert component.pid is not None and component.create_time is not None
        outcome = stop_process(component.pid, component.create_time, grace)
        say(f"  {component.name}: {'not running' if outcome == 'gone' else outcome}")
    remove_state(home)
    say("stopped")
    return 0


@dataclass(frozen=True)
class StatusRow:
    name: str
    kind: str
    address: str
    pid: int | None
    state: str  # serving, exited, unreachable, not_serving, ...
    detail: str
    metrics: str
    log: str


def collect_status(home: Path) -> tuple[StackState | None, list[StatusRow]]:
    state = read_state(home)
    if state is None:
        return None, []
    rows = []
    for component in state.components:
        owned = component.pid is not None and component.create_time is not None
        if owned and live_process(component.pid or 0, component.create_time or 0.0) is None:
            health, detail = "exited", ""
        else:
            result = check_component(component)
            health = "serving" if result.healthy else result.status.lower()
            detail = result.detail
        rows.append(
            StatusRow(
                component.name,
                component.kind,
                component.address,
                component.pid,
                health,
                detail,
                component.metrics,
                component.log,
            )
        )
    return state, rows


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show nothing that could be a secret
        return url.split("://", 1)[0] + "://..."


def migrate_service(spec: ServiceSpec, db_url: str) -> None:
    from services.common.db import upgrade_database

    try:
        upgrade_database(spec.name, db_url)
    except Exception as exc:  # any failure: say which service and database, keep the cause
        raise StackError(
            f"migrating {spec.name} on {_display_url(db_url)} failed: {type(exc).__name__}: {exc}"
        ) from exc


def migrate_embedded(
    specs: Sequence[ServiceSpec], env: Mapping[str, str], home: Path, say: Say
) -> None:
    """``aimass up`` brings embedded SQLite databases to head; other databases are left alone."""
    for spec in specs:
        if spec.migrations_dir() is None:
            continue
        url = spec.db_url(env, home)
        if url.startswith("sqlite"):
            say(f"migrating {spec.name} ({_display_url(url)})")
            migrate_service(spec, url)
        else:
            say(
                f"{spec.name} uses {_display_url(url)}: not migrated by `aimass up`; "
                f"run `aimass migrate {spec.name}` after upgrades"
            )


def run_migrate(names: Sequence[str], home: Path, env: Mapping[str, str], say: Say) -> int:
    """Upgrade each named (default: every installed) service's database to the latest schema."""
    specs = [spec for spec in select_services(names) if spec.migrations_dir() is not None]
    without = sorted(set(names) - {spec.name for spec in specs})
    if without:
        raise StackError(f"no migrations for: {', '.join(without)}")
    if not specs:
        say("no installed service has migrations")
        return 0
    home.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        url = spec.db_url(env, home)
        say(f"{spec.name}: upgrading {_display_url(url)} to the latest schema")
        migrate_service(spec, url)
    say("done")
    return 0
