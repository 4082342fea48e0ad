"""The ML routes' test stack: the trainer tests' real registry, ingest (with the cancer, diabetes
and iris datasets) and trainer over real NATS, and a gateway in front of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aimass.client_base import ServerEvent, parse_sse
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway
from tests.trainer.service_fixtures import Stack, TrainerHandle, stack, trainer

__all__ = ["ml_gateway", "stack", "trainer"]

API = "/api/v1"
FINAL_STATES = ("RUN_STATE_FINISHED", "RUN_STATE_FAILED", "RUN_STATE_CANCELLED")


@pytest.fixture(scope="module")
async def ml_gateway(
    stack: Stack, trainer: TrainerHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("ml-gateway"),
        registry_address=stack.registry_address,
        ingest_address=stack.ingest_address,
        trainer_address=trainer.server.running.address,
    )
    # The trainer's first ListAlgorithms loads its algorithm library: seconds, more on a busy CI.
    settings = settings.model_copy(update={"gateway_backend_timeout_seconds": 30})
    async with running_gateway(settings) as gateway:
        yield gateway


def project_path(stack: Stack, *parts: str) -> str:
    return "/".join([f"{API}/projects/{stack.project}", *parts])


def train_body(
    stack: Stack, algorithm: str, dataset: str = "cancer", **spec: Any
) -> dict[str, Any]:
    """A SubmitRequest body (JSON) training ``algorithm`` on one of the stack's datasets."""
    data = {"dataset_version_id": stack.datasets[dataset], "target_column": "target"}
    train = {"algorithm": algorithm, "task": "TASK_TYPE_CLASSIFICATION", "data": data, **spec}
    return {"train": train}


def ints(**values: int) -> dict[str, Any]:
    """Hyperparameters as ParamValue JSON."""
    return {name: {"int_value": str(value)} for name, value in values.items()}


async def sse(
    client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None
) -> list[ServerEvent]:
    """Every event of a Server-Sent Events response (the in-process transport answers once the
    stream has ended)."""
    headers = {"Accept": "text/event-stream"}
    async with client.stream("GET", path, params=params, headers=headers) as response:
        body = (await response.aread()).decode()
        assert response.status_code == 200, body
        assert response.headers["content-type"].startswith("text/event-stream")
    return list(parse_sse(body.splitlines()))


async def follow(
    client: httpx.AsyncClient, stack: Stack, run_id: str, include_trials: bool = False
) -> list[dict[str, Any]]:
    """The RunProgress updates of a run until it ends; the last one is final."""
    params = {"include_trials": "true"} if include_trials else None
    events = await sse(client, project_path(stack, "runs", run_id, "events"), params)
    assert {event.event for event in events} == {"progress"}, events[-1:]
    updates = [event.data for event in events if isinstance(event.data, dict)]
    assert updates and updates[-1]["state"] in FINAL_STATES, events[-3:]
    return updates


async def wait_status(
    client: httpx.AsyncClient, stack: Stack, run_id: str, status: str, deadline: float = 60
) -> dict[str, Any]:
    """Poll GET run (through the gateway) until it has ``status``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        response = await client.get(project_path(stack, "runs", run_id))
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["status"] == status:
            return run
        assert loop.time() < end, f"run {run_id} still {run['status']} after {deadline}s"
        await asyncio.sleep(0.1)
