"""The data routes' refusals: bad bodies, unknown names, a backend that is down, scopes and
project-bound tokens."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.data_fixtures import (
    API,
    create_project,
    data_gateway,
    iris_csv,
    project_path,
    stack,
)
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway
from tests.trainer.service_fixtures import Stack

__all__ = ["data_gateway", "stack"]


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return dict(body["error"])


async def test_malformed_and_unknown_fields_are_400(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    datasets = project_path(project, "datasets")
    broken = await admin.post(
        datasets, content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and "not valid JSON" in _error(broken)["message"]
    unknown = await admin.post(datasets, json={"name": "d", "colour": "red"})
    assert unknown.status_code == 400 and "colour" in _error(unknown)["message"]
    clash = await admin.post(datasets, json={"name": "d", "project": "elsewhere"})
    assert clash.status_code == 400 and "from the path" in _error(clash)["message"]
    bad_version = await admin.get(project_path(project, "datasets", "d", "versions", "-1"))
    assert bad_version.status_code == 400
    no_name = await admin.post(project_path(project, "uploads"), content=b"a,b\n1,2\n")
    assert no_name.status_code == 400 and "file_name" in _error(no_name)["message"]


async def test_unknown_names_are_404(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    for path in (
        project_path(project, "datasets", "nope"),
        project_path(project, "datasets", "nope", "versions", 1),
        project_path(project, "datasets", "nope", "versions", 1, "preview"),
        project_path(project, "ingest-jobs", "nope"),
        project_path(project, "sources", "nope"),
        project_path("no-such-project"),
    ):
        response = await admin.get(path)
        assert response.status_code == 404, (path, response.text)
        assert _error(response)["code"] == "NOT_FOUND"
    events = await admin.get(project_path(project, "ingest-jobs", "nope", "events"))
    assert events.status_code == 404 and _error(events)["code"] == "NOT_FOUND"


async def test_a_damaged_upload_is_refused(data_gateway: Gateway) -> None:
    project = await create_project(data_gateway.admin)
    content = iris_csv()
    params = {"file_name": "iris.csv", "sha256": hashlib.sha256(b"other").hexdigest()}
    response = await data_gateway.admin.post(
        project_path(project, "uploads"), params=params, content=content
    )
    assert response.status_code == 400 and "SHA-256" in _error(response)["message"]


@pytest.fixture
async def no_ingest(stack: Stack, tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = gateway_settings(tmp_path, registry_address=stack.registry_address)
    async with running_gateway(settings) as gateway:
        yield gateway


async def test_ingest_down_is_503_at_once(no_ingest: Gateway) -> None:
    admin = no_ingest.admin
    project = await create_project(admin)
    started = time.monotonic()
    uploaded = await admin.post(
        project_path(project, "uploads"), params={"file_name": "x.csv"}, content=iris_csv()
    )
    events = await admin.get(project_path(project, "ingest-jobs", "job", "events"))
    jobs = await admin.get(project_path(project, "ingest-jobs"))
    for response in (uploaded, events, jobs):
        assert response.status_code == 503, response.text
        assert _error(response)["code"] == "UNAVAILABLE"
    assert time.monotonic() - started < 5
    assert (await admin.get(project_path(project, "datasets"))).status_code == 200


async def test_project_bound_tokens(data_gateway: Gateway) -> None:
    project = await create_project(data_gateway.admin)
    other = await create_project(data_gateway.admin)
    bound_admin = data_gateway.as_token(await data_gateway.issue(project, ["admin"]))
    refused = await bound_admin.post(f"{API}/projects", json={"name": "mine"})
    assert refused.status_code == 403 and "all-projects admin" in _error(refused)["message"]
    own_delete = await bound_admin.delete(project_path(project))
    assert own_delete.status_code == 403
    assert (await bound_admin.delete(project_path(other))).status_code == 404
    listed = await bound_admin.get(f"{API}/projects")
    assert [p["name"] for p in listed.json()["projects"]] == [project]
    assert listed.json()["page"]["next_page_token"] == ""
    none = await bound_admin.get(f"{API}/projects", params={"name_contains": "zzz"})
    assert none.json() == {"projects": [], "page": {"next_page_token": ""}}
    assert (await bound_admin.get(project_path(other, "datasets"))).status_code == 404
    hidden = await bound_admin.get(project_path(other, "ingest-jobs", "x", "events"))
    assert hidden.status_code == 404


async def test_scopes(data_gateway: Gateway) -> None:
    project = await create_project(data_gateway.admin)
    reader = data_gateway.as_token(await data_gateway.issue(project, ["read"]))
    writer = data_gateway.as_token(await data_gateway.issue(project, ["data:write"]))
    assert (await reader.get(project_path(project, "datasets"))).status_code == 200
    write = await reader.post(project_path(project, "datasets"), json={"name": "d"})
    assert write.status_code == 403 and "'data:write' scope" in _error(write)["message"]
    upload = await reader.post(
        project_path(project, "uploads"), params={"file_name": "x.csv"}, content=b"a\n1\n"
    )
    assert upload.status_code == 403
    assert (await writer.post(project_path(project, "datasets"), json={"name": "d"})).is_success
    assert (await writer.get(project_path(project, "datasets"))).status_code == 403
