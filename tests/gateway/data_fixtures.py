"""The data routes' test stack: the trainer tests' real registry and ingest (real NATS, one bus
namespace) with a gateway in front, plus helpers that drive projects, uploads and ingest jobs
through the gateway."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_iris

from aimass.client_base import ServerEvent, parse_sse
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway
from tests.trainer.service_fixtures import Stack, stack

__all__ = ["data_gateway", "stack"]

API = "/api/v1"
FINAL_STATES = (
    "INGEST_JOB_STATE_SUCCEEDED",
    "INGEST_JOB_STATE_FAILED",
    "INGEST_JOB_STATE_CANCELLED",
)


@pytest.fixture(scope="module")
async def data_gateway(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("data-gateway"),
        registry_address=stack.registry_address,
        ingest_address=stack.ingest_address,
    )
    async with running_gateway(settings) as gateway:
        yield gateway


def iris_csv() -> bytes:
    """scikit-learn's bundled iris table as CSV (150 rows, 5 columns)."""
    frame = load_iris(as_frame=True).frame
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    return str(frame.to_csv(index=False)).encode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def project_path(project: str, *parts: str | int) -> str:
    return "/".join([f"{API}/projects/{project}", *(str(part) for part in parts)])


async def create_project(admin: httpx.AsyncClient, prefix: str = "data") -> str:
    name = unique(prefix)
    response = await admin.post(f"{API}/projects", json={"name": name})
    assert response.status_code == 201, response.text
    return name


async def upload(
    client: httpx.AsyncClient, project: str, content: bytes, file_name: str = "iris.csv"
) -> dict[str, Any]:
    params = {"file_name": file_name, "sha256": hashlib.sha256(content).hexdigest()}
    response = await client.post(project_path(project, "uploads"), params=params, content=content)
    assert response.status_code == 201, response.text
    return dict(response.json())


def file_recipe(upload_id: str, **extra: Any) -> dict[str, Any]:
    return {"sources": [{"alias": "data", "file": {"upload_id": upload_id}}], **extra}


async def sse(client: httpx.AsyncClient, path: str) -> list[ServerEvent]:
    """Every event of a Server-Sent Events response, read until the server ends it."""
    async with client.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
        body = (await response.aread()).decode()
        assert response.status_code == 200, body
        assert response.headers["content-type"].startswith("text/event-stream")
    return list(parse_sse(body.splitlines()))


async def ingest(
    client: httpx.AsyncClient, project: str, dataset: str, recipe: dict[str, Any]
) -> tuple[dict[str, Any], list[ServerEvent]]:
    """Create a job writing ``dataset`` and follow its events; the job's last state and events."""
    body = {"recipe": recipe, "target": {"dataset": dataset, "create_dataset": True}}
    created = await client.post(project_path(project, "ingest-jobs"), json=body)
    assert created.status_code == 202, created.text
    events = await sse(client, project_path(project, "ingest-jobs", created.json()["id"], "events"))
    assert events, "no events"
    last = events[-1].data
    assert isinstance(last, dict) and last["state"] in FINAL_STATES, events[-3:]
    return last, events


def data_dir(stack: Stack) -> Path:
    """The folder the stack's ingest may read by URL."""
    return stack.home / "imports"
