"""Child processes of the local stack: ports, spawning, identity, stopping without orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Literal

import psutil

# A recorded pid counts as ours only if the process started within this many seconds of the
# recorded start time, so a recycled pid is never signalled.
_IDENTITY_TOLERANCE_S = 1.0

StopOutcome = Literal["gone", "stopped", "killed"]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Something listens on the port, or it cannot be bound on all interfaces."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def spawn(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C at the terminal reaches only the launcher, which
    stops children in order), output to ``log_path``; the previous run's log becomes ``.1``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists():
        log_path.replace(log_path.with_name(log_path.name + ".1"))
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def create_time(pid: int) -> float:
    return psutil.Process(pid).create_time()


def live_process(pid: int, started: float) -> psutil.Process | None:
    """The running process with this pid and start time; None if it exited (or is a zombie)."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) > _IDENTITY_TOLERANCE_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return proc


def _signal_family(leader: psutil.Process, family: Sequence[psutil.Process], sig: int) -> None:
    # The group reaches descendants we did not see; members are also signalled one by one in case
    # they left the group. is_running() re-checks identity, so a recycled pid is never hit.
    with contextlib.suppress(OSError, psutil.Error):
        if leader.is_running() and os.getpgid(leader.pid) == leader.pid:
            os.killpg(leader.pid, sig)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _still_running(procs: Sequence[psutil.Process]) -> list[psutil.Process]:
    running = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
    return running


def wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until every process exited; zombies count as exited (their parent reaps them)."""
    deadline = time.monotonic() + timeout
    alive = _still_running(procs)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = _still_running(alive)
    return alive


def stop_process(pid: int, started: float, grace: float) -> StopOutcome:
    """SIGTERM the process and its descendants, wait ``grace`` seconds, SIGKILL what is left."""
    leader = live_process(pid, started)
    if leader is None:
        return "gone"
    try:
        family = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        family = [leader]
    _signal_family(leader, family, signal.SIGTERM)
    alive = wait_gone(family, grace)
    if not alive:
        return "stopped"
    _signal_family(leader, alive, signal.SIGKILL)
    wait_gone(alive, 5.0)
    return "killed"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file (empty if there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


class StopFlag:
    """Set by SIGINT/SIGTERM/SIGHUP; the launcher polls it, so no handler runs cleanup code."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    flag = StopFlag()

    def handler(signum: int, _frame: FrameType | None) -> None:
        flag.signum = signum

    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
