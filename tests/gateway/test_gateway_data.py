"""Projects, datasets, uploads and ingest jobs through the gateway, against a real registry and a
real ingest server: the whole path from a CSV upload to a previewed, shared dataset version."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.data_fixtures import (
    API,
    create_project,
    data_dir,
    data_gateway,
    file_recipe,
    ingest,
    iris_csv,
    project_path,
    stack,
    unique,
    upload,
)
from tests.gateway.gateway_fixtures import Gateway
from tests.trainer.service_fixtures import Stack

__all__ = ["data_gateway", "stack"]


async def test_upload_ingest_and_read_a_csv(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    created = await admin.post(project_path(project, "datasets"), json={"name": "iris"})
    assert created.status_code == 201, created.text
    content = iris_csv()
    uploaded = await upload(admin, project, content)
    assert int(uploaded["size_bytes"]) == len(content) and uploaded["upload_id"]

    preview = await admin.post(
        project_path(project, "ingest-jobs", "preview"),
        json={"recipe": file_recipe(uploaded["upload_id"]), "limit": 3},
    )
    assert preview.status_code == 200, preview.text
    assert len(preview.json()["rows"]) == 3
    split = {
        "method": "SPLIT_METHOD_RANDOM",
        "parts": [{"name": "train", "fraction": 0.8}, {"name": "test", "fraction": 0.2}],
        "seed": "7",
    }
    job, events = await ingest(
        admin, project, "iris", file_recipe(uploaded["upload_id"], split=split)
    )
    assert job["state"] == "INGEST_JOB_STATE_SUCCEEDED", job["error"]
    assert {event.event for event in events} == {"job"}
    assert job["result"]["split_rows"] == {"train": "120", "test": "30"}

    fetched = await admin.get(project_path(project, "ingest-jobs", job["id"]))
    assert fetched.json()["result"]["dataset_version_id"] == job["result"]["dataset_version_id"]
    await _read_versions(admin, project, job["result"]["dataset_version_id"])


async def _read_versions(admin: httpx.AsyncClient, project: str, version_id: str) -> None:
    versions = await admin.get(project_path(project, "datasets", "iris", "versions"))
    assert [v["id"] for v in versions.json()["versions"]] == [version_id]
    latest = await admin.get(project_path(project, "datasets", "iris", "versions", 0))
    assert latest.json()["id"] == version_id and latest.json()["row_count"] == "150"
    columns = ["sepal_length", "target"]
    preview = await admin.get(
        project_path(project, "datasets", "iris", "versions", 1, "preview"),
        params={"limit": 4, "split": "test", "columns": columns},
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [c["name"] for c in body["schema"]["fields"]] == columns
    assert len(body["rows"]) == 4 and all(len(row) == 2 for row in body["rows"])
    jobs = await admin.get(project_path(project, "ingest-jobs"), params={"state": "succeeded"})
    assert [j["result"]["dataset_version_id"] for j in jobs.json()["jobs"]] == [version_id]


async def test_sharing_reaches_another_projects_catalog(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    owner, reader = await create_project(admin, "owner"), await create_project(admin, "reader")
    name = unique("shared")
    await admin.post(project_path(owner, "datasets"), json={"name": name})
    catalog_path = project_path(reader, "catalog")
    before = await admin.get(catalog_path, params={"owner_project": owner})
    assert before.status_code == 200 and before.json()["datasets"] == []

    shared = await admin.put(
        project_path(owner, "datasets", name, "sharing"),
        json={"visibility": "VISIBILITY_SHARED", "shared_with": [reader]},
    )
    assert shared.status_code == 200, shared.text
    assert shared.json() == {"visibility": "VISIBILITY_SHARED", "shared_with": [reader]}
    after = await admin.get(catalog_path, params={"owner_project": owner})
    assert [d["name"] for d in after.json()["datasets"]] == [name]
    own_list = await admin.get(project_path(reader, "datasets"))
    assert own_list.json()["datasets"] == []
    with_shared = await admin.get(
        project_path(reader, "datasets"), params={"include_shared": "true"}
    )
    assert name in [d["name"] for d in with_shared.json()["datasets"]]


async def test_update_delete_and_restore_a_dataset(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    path = project_path(project, "datasets", "d")
    await admin.post(project_path(project, "datasets"), json={"name": "d", "description": "a"})
    changed = await admin.patch(path, json={"description": "b"})
    assert changed.status_code == 200 and changed.json()["description"] == "b"
    assert (await admin.delete(path)).json()["deleted_at"]
    assert (await admin.get(path)).status_code == 404
    assert (await admin.get(path, params={"include_deleted": "true"})).status_code == 200
    restored = await admin.post(path + "/restore")
    assert restored.status_code == 200 and "deleted_at" not in restored.json()
    assert (await admin.get(path)).status_code == 200
    labelled = await admin.patch(f"{API}/projects/{project}", json={"labels": {"team": "x"}})
    assert labelled.json()["labels"] == {"team": "x"} and labelled.json()["description"] == ""


async def test_lists_page_through_next_tokens(data_gateway: Gateway) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    names = sorted(unique("d") for _ in range(3))
    for name in names:
        await admin.post(project_path(project, "datasets"), json={"name": name})
    order = {"order_by": [{"field": "name"}]}
    searched = await admin.post(project_path(project, "datasets", "search"), json=order)
    assert [d["name"] for d in searched.json()["datasets"]] == names
    paged = await _all_pages(admin, project_path(project, "datasets"), "datasets")
    assert sorted(d["name"] for d in paged) == names
    prefix = project.rsplit("-", 1)[0]
    other = await create_project(admin, prefix)
    projects = await _all_pages(admin, f"{API}/projects", "projects", name_contains=prefix)
    assert {project, other} <= {p["name"] for p in projects}


async def _all_pages(
    client: httpx.AsyncClient, path: str, field: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, one per page, following next_page_token to the end."""
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(100):
        response = await client.get(path, params={**params, "page_size": 1, "page_token": token})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page[field]) <= 1
        items += page[field]
        token = page["page"]["next_page_token"]
        if not token:
            return items
    raise AssertionError("the pages did not end")


async def test_saved_sources_and_cancel_of_an_ended_job(
    data_gateway: Gateway, stack: Stack
) -> None:
    admin = data_gateway.admin
    project = await create_project(admin)
    (data_dir(stack) / "iris-source.csv").write_bytes(iris_csv())
    body = {"name": "iris", "file": {"url": (data_dir(stack) / "iris-source.csv").as_uri()}}
    source = await admin.post(project_path(project, "sources"), json=body)
    assert source.status_code == 201, source.text
    listed = await admin.get(project_path(project, "sources"))
    assert [s["name"] for s in listed.json()["sources"]] == ["iris"]
    recipe = {"sources": [{"alias": "data", "source_id": source.json()["id"]}]}
    job, _ = await ingest(admin, project, "from-source", recipe)
    assert job["state"] == "INGEST_JOB_STATE_SUCCEEDED", job["error"]
    late = await admin.post(project_path(project, "ingest-jobs", job["id"], "cancel"))
    assert late.status_code == 400 and late.json()["error"]["code"] == "FAILED_PRECONDITION"
    gone = await admin.delete(project_path(project, "sources", "iris"))
    assert gone.status_code == 200, gone.text
    assert (await admin.get(project_path(project, "sources", "iris"))).status_code == 404
