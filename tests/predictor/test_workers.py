"""`python -m services.predictor --workers 2`: two processes share the port (SO_REUSEPORT), each
answering with every deployed model; a signal to the parent stops both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest

from aimass.inference.v2 import open_inference_pb2 as oip
from aimass.inference.v2 import open_inference_pb2_grpc
from aimass.predictor.v1 import predictor_pb2 as ppb
from aimass.predictor.v1 import predictor_pb2_grpc
from tests.conftest import delete_streams, nats_url
from tests.helpers import registry_settings, serve_registry

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_two_worker_processes_share_the_port(tmp_path: Path) -> None:
    namespace = f"w{uuid.uuid4().hex[:10]}"
    port = _free_port()
    async with contextlib.AsyncExitStack() as stack:
        settings = registry_settings(
            tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", namespace
        )
        running, _, _ = await serve_registry(stack, settings)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIMASS_")},
            "PYTHONPATH": str(ROOT),
            "AIMASS_HOME": str(tmp_path),
            "AIMASS_PREDICTOR_PORT": str(port),
            "AIMASS_REGISTRY_ADDRESS": running.address,
            "AIMASS_NATS_URL": nats_url(),
            "AIMASS_BUS_NAMESPACE": namespace,
            "AIMASS_METRICS_ENABLED": "false",
            "AIMASS_GRPC_HOST": "127.0.0.1",
        }
        parent = subprocess.Popen(
            [sys.executable, "-m", "services.predictor", "--workers", "2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            instances = await _instances(f"127.0.0.1:{port}", parent)
            assert len(instances) == 2, instances
        finally:
            parent.send_signal(signal.SIGTERM)
            _, errors = await asyncio.to_thread(parent.communicate, None, 60)
        assert parent.returncode == 0, errors.decode()[-2000:]
    await delete_streams(nats_url(), f"{namespace}_")


async def _instances(address: str, parent: subprocess.Popen[bytes]) -> set[str]:
    """The processes answering on ``address``: each new connection lands on one of them."""
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    end = loop.time() + 90
    while loop.time() < end and len(seen) < 2:
        if parent.poll() is not None:
            _, errors = parent.communicate()
            raise AssertionError(f"the predictor exited: {errors.decode()[-3000:]}")
        async with grpc.aio.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        ) as channel:
            try:
                live = await open_inference_pb2_grpc.GRPCInferenceServiceStub(channel).ServerLive(
                    oip.ServerLiveRequest(), timeout=2
                )
                assert live.live
                stats = await predictor_pb2_grpc.PredictorAdminServiceStub(channel).GetModelStats(
                    ppb.GetModelStatsRequest(), timeout=2
                )
                seen.add(stats.instance)
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)  # still starting
    return seen
