"""``aimass up`` end to end: real processes, a NATS server of its own, no process left behind.

The stack tests run the real services (every one that is installed); the launcher-behaviour tests
swap the service table for ``tests/e2e/fake_service.py`` so a crash or a hang can be staged.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from aimass.local.specs import SERVICES
from services.common.healthcheck import check_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Runs the CLI with the service table replaced by the stand-in service.
_FAKE_CLI = (
    "import sys; from aimass.local import specs; "
    "specs.SERVICES[:] = [specs.ServiceSpec('fake', 0, module='tests.e2e.fake_service', "
    "metrics_offset=None)]; from aimass.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(also_free: int = 0) -> int:
    """A free port p; with ``also_free``, p + also_free is free too (a metrics port)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not also_free or (port + also_free < 65536 and _bindable(port + also_free)):
            return port
    raise RuntimeError("no free port found")


@pytest.fixture
def stack_env() -> dict[str, str]:
    """The caller's environment without AIMASS_* settings, with free ports for every service."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMASS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for spec in SERVICES:
        env[spec.port_env] = str(_free_port(also_free=spec.metrics_offset or 0))
    env["AIMASS_FAKE_PORT"] = str(_free_port())
    return env


def _cli(*args: str, fake: bool = False) -> list[str]:
    return (
        [sys.executable, "-c", _FAKE_CLI, *args]
        if fake
        else [sys.executable, "-m", "aimass.cli", *args]
    )


def _run(
    argv: Sequence[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _recorded(home: Path) -> list[tuple[str, int, float]]:
    document = json.loads((home / "stack.json").read_text())
    return [
        (c["name"], c["pid"], c["create_time"])
        for c in document["components"]
        if c["pid"] is not None
    ]


def _leftovers(recorded: list[tuple[str, int, float]], home: Path) -> list[str]:
    """Processes of the stack still running (zombies waiting for a reaper count as gone)."""
    alive = []
    for name, pid, started in recorded:
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - started) < 1 and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{name} (pid {pid})")
        except psutil.NoSuchProcess:
            pass
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(home) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            alive.append(f"pid {proc.info['pid']}: {cmdline}")
    return alive


def _wait_no_leftovers(recorded: list[tuple[str, int, float]], home: Path) -> None:
    deadline = time.monotonic() + 10
    while (left := _leftovers(recorded, home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"


class _Foreground:
    """``aimass up`` in the foreground, its output collected line by line."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.popen = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready:"):
                self.ready.set()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            assert self.popen.poll() is None, "aimass up exited:\n" + self.output
            assert time.monotonic() < deadline, "not ready in time:\n" + self.output

    def finish(self, timeout: float = 120) -> int:
        code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=10)
        assert self.popen.stdout is not None
        self.popen.stdout.close()
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def foreground() -> Iterator[list[_Foreground]]:
    started: list[_Foreground] = []
    yield started
    for run in started:  # a failed test must not leave a stack running
        if run.popen.poll() is None:
            run.popen.send_signal(signal.SIGTERM)
        run.finish()


# -- the real stack ---------------------------------------------------------------------------


def test_up_detached_status_down(tmp_path: Path, stack_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    nats_port = str(_free_port())
    recorded: list[tuple[str, int, float]] = []
    up = _run(_cli("up", "--detach", "--home", str(home), "--nats-port", nats_port), stack_env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "ready:" in up.stdout
        recorded = _recorded(home)
        names = [name for name, _, _ in recorded]
        assert names[:2] == ["nats", "registry"]  # its own NATS, then the services in order

        status = _run(_cli("status", "--json", "--home", str(home)), stack_env, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["healthy"] is True
        states = {row["name"]: row["state"] for row in report["services"]}
        assert states == dict.fromkeys(names, "serving")
        registry = next(row for row in report["services"] if row["name"] == "registry")
        assert registry["address"] == f"127.0.0.1:{stack_env['AIMASS_REGISTRY_PORT']}"
        assert check_grpc(registry["address"]).healthy
        assert (home / "registry.db").is_file()  # migrated before it started
        nats = next(row for row in report["services"] if row["name"] == "nats")
        assert nats["address"] == f"nats://127.0.0.1:{nats_port}"
    finally:
        down = _run(_cli("down", "--home", str(home)), stack_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (home / "stack.json").exists()
    _wait_no_leftovers(recorded, home)
    status = _run(_cli("status", "--home", str(home)), stack_env, timeout=60)
    assert status.returncode == 1 and "no stack is running" in status.stdout


def test_demo_runs_end_to_end_on_the_stack(tmp_path: Path, stack_env: dict[str, str]) -> None:
    """The main job: upload, ingest, train through the trainer, register, alias, deploy, predict
    over OIP and again through the REST gateway with a token the demo issues, lineage."""
    home = tmp_path / "home"
    up = _run(
        _cli("up", "--detach", "--home", str(home), "--nats-port", str(_free_port())), stack_env
    )
    recorded: list[tuple[str, int, float]] = []
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        recorded = _recorded(home)
        demo = _run(
            _cli(
                "demo",
                "--registry",
                f"127.0.0.1:{stack_env['AIMASS_REGISTRY_PORT']}",
                "--ingest",
                f"127.0.0.1:{stack_env['AIMASS_INGEST_PORT']}",
                "--trainer",
                f"127.0.0.1:{stack_env['AIMASS_TRAINER_PORT']}",
                "--predictor",
                f"127.0.0.1:{stack_env['AIMASS_PREDICTOR_PORT']}",
                "--gateway",
                f"http://127.0.0.1:{stack_env['AIMASS_GATEWAY_PORT']}",
                "--home",
                str(home),
            ),
            stack_env,
            timeout=300,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        lines = demo.stdout.splitlines()
        assert "splits {'test': 113, 'train': 456}" in lines[0]
        accuracy = float(next(line for line in lines if "test accuracy" in line).split()[-1])
        assert accuracy >= 0.93
        assert any(line.startswith("model     breast-cancer-xgb@") for line in lines), lines
        served = next(line for line in lines if line.startswith("predict   "))
        assert "over Open Inference: labels [" in served, served
        labels = served.split("labels ", 1)[1].split("]", 1)[0] + "]"
        through_gateway = next(line for line in lines if "over the REST gateway" in line)
        assert f"the same labels {labels}" in through_gateway, through_gateway
        lineage = demo.stdout.split("lineage", 1)[1]
        for node in ("deployment", "model_version", "dataset_version", "source", "ingest"):
            assert node in lineage, demo.stdout
    finally:
        down = _run(_cli("down", "--home", str(home)), stack_env)
    assert down.returncode == 0, down.stdout + down.stderr
    _wait_no_leftovers(recorded, home)


def test_up_foreground_stops_cleanly_on_sigint(
    tmp_path: Path, stack_env: dict[str, str], foreground: list[_Foreground]
) -> None:
    home = tmp_path / "home"
    run = _Foreground(_cli("up", "--home", str(home), "--nats-port", str(_free_port())), stack_env)
    foreground.append(run)
    run.wait_ready()
    recorded = _recorded(home)
    assert len(recorded) >= 2
    run.popen.send_signal(signal.SIGINT)
    assert run.finish() == 0, run.output
    assert "SIGINT received" in run.output and run.lines[-1] == "stopped"
    assert not (home / "stack.json").exists()
    _wait_no_leftovers(recorded, home)


# -- launcher behaviour, on a stand-in service ------------------------------------------------


def test_down_from_another_process_stops_a_foreground_stack(
    tmp_path: Path, stack_env: dict[str, str], foreground: list[_Foreground]
) -> None:
    home = tmp_path / "home"
    argv = _cli("up", "--home", str(home), "--nats-port", str(_free_port()), fake=True)
    run = _Foreground(argv, stack_env)
    foreground.append(run)
    run.wait_ready()
    recorded = _recorded(home)
    second = _run(_cli("up", "--home", str(home), fake=True), stack_env)
    assert second.returncode == 1 and "still running" in second.stderr
    down = _run(_cli("down", "--home", str(home)), stack_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert run.finish() == 0, run.output
    assert "SIGTERM received" in run.output
    _wait_no_leftovers(recorded, home)


def test_a_crashing_service_stops_the_stack_with_an_error(
    tmp_path: Path, stack_env: dict[str, str], foreground: list[_Foreground]
) -> None:
    home = tmp_path / "home"
    env = {**stack_env, "AIMASS_FAKE_EXIT_AFTER": "1.5"}
    run = _Foreground(
        _cli("up", "--home", str(home), "--nats-port", str(_free_port()), fake=True), env
    )
    foreground.append(run)
    run.wait_ready()
    recorded = _recorded(home)
    assert run.finish() == 1
    assert "fake stopped unexpectedly (exit code 3)" in run.output
    assert "fake service crashing on purpose" in run.output  # the log's tail
    _wait_no_leftovers(recorded, home)


def test_unhealthy_service_times_out_with_its_log(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {**stack_env, "AIMASS_FAKE_NOT_SERVING": "1"}
    argv = _cli(
        "up", "--home", str(home), "--nats-port", str(_free_port()), "--timeout", "2", fake=True
    )
    up = _run(argv, env)
    assert up.returncode == 1
    assert "not healthy after 2s" in up.stderr and "fake 127.0.0.1" in up.stderr
    assert "NOT_SERVING" in up.stderr and "fake service serving" in up.stderr
    assert not (home / "stack.json").exists()
    assert not _leftovers([], home)


def test_down_kills_a_service_that_ignores_sigterm(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {**stack_env, "AIMASS_FAKE_IGNORE_TERM": "1"}
    up = _run(
        _cli("up", "-d", "--home", str(home), "--nats-port", str(_free_port()), fake=True), env
    )
    assert up.returncode == 0, up.stdout + up.stderr
    recorded = _recorded(home)
    down = _run(_cli("down", "--grace", "1", "--home", str(home)), env)
    assert down.returncode == 0
    assert "fake: killed" in down.stdout and "nats: stopped" in down.stdout
    _wait_no_leftovers(recorded, home)


def test_a_port_held_by_something_else_is_refused(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        port = str(squatter.getsockname()[1])
        up = _run(_cli("up", "-d", "--home", str(home), "--nats-port", port, fake=True), stack_env)
        assert up.returncode == 1
        assert f"127.0.0.1:{port} is taken by something that is not NATS" in up.stderr
        env = {**stack_env, "AIMASS_FAKE_PORT": port}
        up = _run(_cli("up", "-d", "--home", str(home), fake=True), env)
        assert up.returncode == 1
        assert f"fake gRPC port {port} (AIMASS_FAKE_PORT)" in up.stderr
    assert not (home / "stack.json").exists()
