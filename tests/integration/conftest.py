"""Integration fixtures. NATS: a real server (AIMASS_TEST_NATS_URL, default nats://127.0.0.1:4222),
one bus namespace per test so tests never collide, and the test's streams deleted afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from services.common.bus import Bus, StreamSpec, connect
from tests.conftest import delete_streams, nats_url

NatsBusFactory = Callable[..., Awaitable[Bus]]


@pytest.fixture(scope="session")
def nats_test_url() -> str:
    return nats_url()


@pytest.fixture
def nats_namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def nats_bus_factory(
    nats_test_url: str, nats_namespace: str
) -> AsyncIterator[NatsBusFactory]:
    """``await make(name=..., streams=...)``: another connection in this test's namespace, as a
    second process would have. Every bus is closed and the namespace's streams are deleted after."""
    buses: list[Bus] = []

    async def make(name: str = "test", streams: Sequence[StreamSpec] | None = None) -> Bus:
        bus = await connect(
            nats_test_url, name=name, namespace=nats_namespace, streams=streams, connect_timeout=5
        )
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close(grace=1.0)
    await delete_streams(nats_test_url, f"{nats_namespace}_")


@pytest.fixture
async def nats_bus(nats_bus_factory: NatsBusFactory) -> Bus:
    """A connected bus with the three standard streams provisioned in the test's namespace."""
    bus = await nats_bus_factory()
    await bus.ensure_streams()
    return bus


class PrivateNatsServer:
    """A nats-server of the test's own (JetStream on, fixed port and store) that it may kill."""

    def __init__(self, binary: str, store: Path) -> None:
        self.binary, self.store = binary, store
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.binary,
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.store),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{self.binary} did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_nats_server(tmp_path: Path) -> Iterator[PrivateNatsServer]:
    """For tests that stop and restart NATS; the shared server is never touched."""
    binary = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    if not Path(binary).exists():
        pytest.skip("no nats-server binary on PATH or in the virtualenv")
    server = PrivateNatsServer(binary, tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()
