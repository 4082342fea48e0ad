"""The services ``aimass up`` knows: one row each, started only when its package is installed.

A new service joins the local stack by adding a row to :data:`SERVICES` (in start order; the stack
stops in reverse) once ``python -m services.<name>`` exists. Its port comes from
``AIMASS_<NAME>_PORT`` (the same variable the service reads), its database from
``AIMASS_<NAME>_DB_URL``, and it has migrations when ``services/<name>/migrations/env.py`` exists.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aimass.local import StackError
from aimass.local.procs import port_in_use

HealthKind = Literal["grpc", "http"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    default_port: int
    health: HealthKind = "grpc"
    # HTTP services: the readiness path; gRPC services: the grpc.health.v1 service name ("" = all).
    health_path: str = ""
    # Empty means ``services.<name>``; tests point this at a stand-in module.
    module: str = ""
    # gRPC services serve Prometheus metrics on port + 1000; HTTP ones on their own /metrics.
    metrics_offset: int | None = 1000

    @property
    def module_name(self) -> str:
        return self.module or f"services.{self.name}"

    @property
    def env_prefix(self) -> str:
        return f"AIMASS_{self.name.upper()}_"

    @property
    def port_env(self) -> str:
        return f"{self.env_prefix}PORT"

    @property
    def db_url_env(self) -> str:
        return f"{self.env_prefix}DB_URL"

    def port(self, env: Mapping[str, str]) -> int:
        raw = env.get(self.port_env, "").strip()
        if not raw:
            return self.default_port
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackError(f"{self.port_env} must be a port number (1-65535), got {raw!r}")
        return int(raw)

    def metrics_port(self, env: Mapping[str, str]) -> int | None:
        """AIMASS_<NAME>_METRICS_PORT, else the service port + offset; None if no own port."""
        if self.metrics_offset is None:
            return None
        raw = env.get(f"{self.env_prefix}METRICS_PORT", "").strip()
        if raw.isdigit() and 0 < int(raw) < 65536:
            return int(raw)
        return self.port(env) + self.metrics_offset

    def metrics_url(self, env: Mapping[str, str], enabled: bool = True) -> str:
        port = self.metrics_port(env)
        if port is None:
            return f"http://127.0.0.1:{self.port(env)}/metrics" if self.health == "http" else ""
        return f"http://127.0.0.1:{port}/metrics" if enabled else ""

    def is_available(self) -> bool:
        """True when ``python -m <module>`` would run: a module, or a package with __main__."""
        try:
            spec = importlib.util.find_spec(self.module_name)
            if spec is None:
                return False
            if spec.submodule_search_locations is None:
                return True
            return importlib.util.find_spec(f"{self.module_name}.__main__") is not None
        except ImportError:
            return False

    def migrations_dir(self) -> Path | None:
        try:
            spec = importlib.util.find_spec(self.module_name)
        except ImportError:
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "migrations"
            if (candidate / "env.py").is_file():
                return candidate
        return None

    def db_url(self, env: Mapping[str, str], home: Path) -> str:
        """The URL the service will use: its env variable, else embedded SQLite under home."""
        configured = env.get(self.db_url_env, "").strip()
        if configured:
            return configured
        return f"sqlite+aiosqlite:///{(home.resolve() / f'{self.name}.db').as_posix()}"


SERVICES: list[ServiceSpec] = [
    ServiceSpec("registry", 50051),
    ServiceSpec("ingest", 50052),
    ServiceSpec("trainer", 50053),
    ServiceSpec("predictor", 50054),
    ServiceSpec("monitor", 50055),
    ServiceSpec("gateway", 8000, health="http", health_path="/readyz", metrics_offset=None),
]


def known_services() -> list[ServiceSpec]:
    # Read the module attribute at call time so tests can substitute the table.
    return list(SERVICES)


def select_services(names: Sequence[str] = ()) -> list[ServiceSpec]:
    """Installed services in start order; ``names`` narrows the choice (unknown names fail)."""
    table = known_services()
    by_name = {spec.name: spec for spec in table}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise StackError(
            f"unknown service(s): {', '.join(unknown)}; known: {', '.join(by_name) or 'none'}"
        )
    wanted = [spec for spec in table if not names or spec.name in names]
    missing = [spec.name for spec in wanted if names and not spec.is_available()]
    if missing:
        raise StackError(f"not installed (no python -m services.<name>): {', '.join(missing)}")
    return [spec for spec in wanted if spec.is_available()]


def _import_roots() -> list[str]:
    """Folders holding the aimass and services packages, for the children's PYTHONPATH, so a
    source checkout runs without being installed."""
    roots: list[str] = []
    for package in ("aimass", "services"):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            root = str(Path(location).resolve().parent)
            if root not in roots:
                roots.append(root)
    return roots


def child_env(
    specs: Sequence[ServiceSpec], home: Path, nats_url: str, base: Mapping[str, str]
) -> dict[str, str]:
    """The environment every service of the stack gets: the caller's, plus where things are."""
    env = dict(base)
    env["AIMASS_HOME"] = str(home)
    env["AIMASS_NATS_URL"] = nats_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    paths = [*_import_roots(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for spec in specs:
        port = spec.port(env)
        env[spec.port_env] = str(port)
        # How the other services reach this one.
        env.setdefault(f"{spec.env_prefix}ADDRESS", f"127.0.0.1:{port}")
        if spec.migrations_dir() is not None:
            env[spec.db_url_env] = spec.db_url(env, home)
    return env


def check_ports(specs: Sequence[ServiceSpec], env: Mapping[str, str], metrics: bool) -> None:
    """Fail before starting anything if a port a service needs is taken."""
    taken = []
    for spec in specs:
        ports = [("gRPC" if spec.health == "grpc" else "HTTP", spec.port(env), spec.port_env)]
        metrics_port = spec.metrics_port(env) if metrics else None
        if metrics_port is not None:
            ports.append(("metrics", metrics_port, f"{spec.env_prefix}METRICS_PORT"))
        for label, port, source in ports:
            if port_in_use(port):
                taken.append(f"{spec.name} {label} port {port} ({source})")
    if taken:
        raise StackError(
            f"already in use: {'; '.join(taken)}. "
            "Stop what holds them, or choose other ports with AIMASS_<SERVICE>_PORT."
        )
