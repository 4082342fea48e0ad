"""Projects over a real gRPC channel, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import grpc
import pytest

from aimass.registry.v1 import registry_pb2 as pb
from tests.registry.conftest import RegistryHandle


async def test_create_get_list_project(registry: RegistryHandle) -> None:
    name = f"acme-{uuid.uuid4().hex[:8]}"
    created = await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=name, description="d", labels={"team": "ml"}),
        metadata=registry.meta("alice"),
        timeout=5,
    )
    assert created.name == name and created.created_by == "alice"
    assert created.labels["team"] == "ml" and created.created_at.seconds > 0
    by_name = await registry.stub.GetProject(pb.GetProjectRequest(project=name), timeout=5)
    by_id = await registry.stub.GetProject(pb.GetProjectRequest(project=created.id), timeout=5)
    assert by_name == by_id == created
    listed = await registry.stub.ListProjects(
        pb.ListProjectsRequest(name_contains=name.upper()), timeout=5
    )
    assert [p.name for p in listed.projects] == [name]


@pytest.mark.parametrize(
    "bad_name", ["", "a/b", "..", "a..b", "-leading", "x" * 129, "sp ace", "ünicode"]
)
async def test_bad_project_names_are_refused(registry: RegistryHandle, bad_name: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await registry.stub.CreateProject(pb.CreateProjectRequest(name=bad_name), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid name" in (error.value.details() or "")


async def test_duplicate_project_is_already_exists(
    registry: RegistryHandle, project: pb.Project
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await registry.stub.CreateProject(pb.CreateProjectRequest(name=project.name), timeout=5)
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert project.name in (error.value.details() or "")
    still = await registry.stub.GetProject(pb.GetProjectRequest(project=project.name), timeout=5)
    assert still == project


async def test_unknown_project_is_not_found(registry: RegistryHandle) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await registry.stub.GetProject(pb.GetProjectRequest(project="nope-404"), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_delete_restore_and_update(registry: RegistryHandle, project: pb.Project) -> None:
    updated = await registry.stub.UpdateProject(
        pb.UpdateProjectRequest(
            project=project.name, description="new", update_mask=["description"]
        ),
        timeout=5,
    )
    assert updated.description == "new" and updated.labels == project.labels
    deleted = await registry.stub.DeleteProject(pb.DeleteRequest(id=project.id), timeout=5)
    assert deleted.deleted_at.seconds > 0
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await registry.stub.GetProject(pb.GetProjectRequest(project=project.name), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    restored = await registry.stub.RestoreProject(pb.RestoreRequest(id=project.id), timeout=5)
    assert not restored.HasField("deleted_at")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await registry.stub.RestoreProject(pb.RestoreRequest(id=project.id), timeout=5)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
