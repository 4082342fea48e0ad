"""An OpenAPI fuzz run: schemathesis generates requests for every operation of the gateway's own
document and sends them to the real gateway in front of a real registry, ingest, trainer and
predictor; no response may be a 5xx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.predictor.config import PredictorSettings
from services.predictor.server import build_server as build_predictor
from tests.conftest import nats_url
from tests.gateway.gateway_fixtures import ADMIN_SECRET, gateway_settings, served_gateway
from tests.trainer.service_fixtures import Stack, TrainerHandle, stack, trainer

__all__ = ["stack", "trainer"]  # the trainer tests' session fixtures, used here too

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES_PER_OPERATION = int(os.environ.get("AIMASS_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
async def gateway_url(
    stack: Stack, trainer: TrainerHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    home: Path = tmp_path_factory.mktemp("fuzz")
    async with contextlib.AsyncExitStack() as exit_stack:
        predictor = await build_predictor(
            PredictorSettings(
                home=home,
                predictor_port=0,
                store_url=stack.store_url,
                nats_url=nats_url(),
                bus_namespace=stack.namespace,
                metrics_enabled=False,
                grpc_host="127.0.0.1",
                shutdown_grace_seconds=1,
                registry_address=stack.registry_address,
            ),
            exit_stack,
        )
        settings = gateway_settings(
            home,
            registry_address=stack.registry_address,
            ingest_address=stack.ingest_address,
            trainer_address=trainer.server.running.address,
            predictor_address=predictor.running.address,
            gateway_max_body_bytes=1024 * 1024,
        )
        async with served_gateway(settings) as url:
            yield url


async def test_no_generated_request_gets_a_server_error(gateway_url: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{gateway_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {ADMIN_SECRET}",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "15",
        "--seed",
        "1",
        "--workers",
        "1",
        "--continue-on-failure",
        "--report-dir",
        str(tmp_path),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its example database stays out of the checkout
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-12000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", text)
    tested = re.search(r"Tested: (\d+)", text)
    assert selected and tested, text[-4000:]
    assert int(tested.group(1)) == int(selected.group(2)) > 20, text[-4000:]
