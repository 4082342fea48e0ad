"""Models, versions and aliases (with their history), over a real gRPC channel on both backends."""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

import grpc
import pytest

from aimass.common.v1 import common_pb2 as common
from aimass.registry.v1 import registry_pb2 as pb
from tests.helpers import refused, unique
from tests.registry.conftest import RegistryHandle


def signature() -> pb.ModelSignature:
    return pb.ModelSignature(
        inputs=common.Schema(
            fields=[
                common.Field(name="features", type=common.DATA_TYPE_FP32, shape=[4]),
                common.Field(name="age", type=common.DATA_TYPE_INT64, nullable=True),
            ]
        ),
        outputs=common.Schema(fields=[common.Field(name="label", type=common.DATA_TYPE_STRING)]),
    )


async def new_model(registry: RegistryHandle, project: pb.Project, name: str = "") -> pb.Model:
    return await registry.stub.CreateModel(
        pb.CreateModelRequest(project=project.name, name=name or unique("m")),
        metadata=registry.meta(),
        timeout=5,
    )


async def add_version(
    registry: RegistryHandle,
    project: pb.Project | str,
    model: str,
    actor: str = "tester",
    **fields: Any,
) -> pb.ModelVersion:
    fields.setdefault("framework", "xgboost")
    fields.setdefault("artifact_uri", f"file:///models/{uuid.uuid4().hex}")
    name = project if isinstance(project, str) else project.name
    return await registry.stub.CreateModelVersion(
        pb.CreateModelVersionRequest(project=name, model=model, **fields),
        metadata=registry.meta(actor),
        timeout=5,
    )


async def get_model(registry: RegistryHandle, project: str, ref: str) -> pb.Model:
    return await registry.stub.GetModel(pb.GetModelRequest(project=project, model=ref), timeout=5)


async def set_alias(
    registry: RegistryHandle,
    project: pb.Project,
    model: str,
    alias: str,
    version: int,
    actor: str = "tester",
) -> pb.Model:
    return await registry.stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model=model, alias=alias, version=version),
        metadata=registry.meta(actor),
        timeout=5,
    )


async def history(
    registry: RegistryHandle, project: pb.Project, model: str, alias: str = ""
) -> list[tuple[str, int, int, str]]:
    response = await registry.stub.ListAliasHistory(
        pb.ListAliasHistoryRequest(project=project.name, model=model, alias=alias), timeout=5
    )
    return [(m.alias, m.from_version, m.to_version, m.actor) for m in response.moves]


async def test_create_model_and_versions_round_trip(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("churn")
    model = await registry.stub.CreateModel(
        pb.CreateModelRequest(
            project=project.name, name=name, description="who leaves", tags={"team": "growth"}
        ),
        metadata=registry.meta("alice"),
        timeout=5,
    )
    assert (model.name, model.owner, model.latest_version) == (name, "alice", 0)
    assert model.tags == {"team": "growth"} and model.project == project.name
    run = await registry.stub.CreateRun(
        pb.CreateRunRequest(project=project.name, name="train"), timeout=5
    )
    first = await add_version(
        registry,
        project,
        name,
        actor="bob",
        framework="sklearn",
        artifact_format="skops",
        content_hash="sha256:" + "cd" * 32,
        signature=signature(),
        metrics={"accuracy": 0.93, "loss": 0.12},
        source_run_id=run.id,
        description="first",
        tags={"candidate": "yes"},
        task="classification",
    )
    assert (first.version, first.model, first.model_id) == (1, name, model.id)
    assert first.signature == signature() and dict(first.metrics) == {
        "accuracy": 0.93,
        "loss": 0.12,
    }
    assert (first.framework, first.artifact_format, first.task) == (
        "sklearn",
        "skops",
        "classification",
    )
    assert first.source_run_id == run.id and first.created_by == "bob"
    assert first.tags == {"candidate": "yes"} and list(first.aliases) == []
    second = await add_version(registry, project, model.id)
    assert second.version == 2
    for request in (
        pb.GetModelVersionRequest(project=project.name, id=first.id),
        pb.GetModelVersionRequest(project=project.name, model=name, version=1),
        pb.GetModelVersionRequest(project=project.name, model=f"{project.name}/{name}", version=1),
    ):
        assert await registry.stub.GetModelVersion(request, timeout=5) == first
    latest = await registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(project=project.name, model=name), timeout=5
    )
    assert latest == second
    assert (await get_model(registry, project.name, name)).latest_version == 2


async def test_create_model_flag_creates_the_model(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("auto")
    await refused(add_version(registry, project, name), grpc.StatusCode.NOT_FOUND, repr(name))
    await refused(get_model(registry, project.name, name), grpc.StatusCode.NOT_FOUND)
    version = await add_version(registry, project, name, create_model=True)
    assert version.version == 1
    model = await get_model(registry, project.name, name)
    assert model.latest_version == 1 and model.id == version.model_id
    again = await add_version(registry, project, name, create_model=True)
    assert again.version == 2 and again.model_id == model.id
    await refused(
        add_version(registry, project, "bad/name", create_model=True),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not a valid name",
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_non_finite_metric_is_refused(
    registry: RegistryHandle, project: pb.Project, value: float
) -> None:
    model = await new_model(registry, project)
    await refused(
        add_version(registry, project, model.name, metrics={"ok": 1.0, "auc": value}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'auc'",
        "finite",
    )
    assert (await get_model(registry, project.name, model.id)).latest_version == 0


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"framework": ""}, "framework is required"),
        ({"artifact_uri": ""}, "artifact_uri is required"),
        ({"framework": "x..y"}, "framework"),
        ({"metrics": {"bad key!": 1.0}}, "metric key"),
        ({"description": "d" * 20_001}, "limit is 20000"),
    ],
)
async def test_bad_versions_are_refused_and_change_nothing(
    registry: RegistryHandle, project: pb.Project, fields: dict[str, Any], fragment: str
) -> None:
    model = await new_model(registry, project)
    await refused(
        add_version(registry, project, model.name, **fields),
        grpc.StatusCode.INVALID_ARGUMENT,
        fragment,
    )
    assert (await get_model(registry, project.name, model.id)).latest_version == 0


async def test_source_run_must_exist_in_the_project(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    other = await registry.stub.CreateProject(pb.CreateProjectRequest(name=unique("p")), timeout=5)
    foreign = await registry.stub.CreateRun(pb.CreateRunRequest(project=other.name), timeout=5)
    for run_id in (uuid.uuid4().hex, foreign.id):
        await refused(
            add_version(registry, project, model.name, source_run_id=run_id),
            grpc.StatusCode.NOT_FOUND,
            f"source run {run_id!r} does not exist",
        )
    name = unique("fresh")
    await refused(
        add_version(registry, project, name, create_model=True, source_run_id=foreign.id),
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(get_model(registry, project.name, name), grpc.StatusCode.NOT_FOUND)
    assert (await get_model(registry, project.name, model.id)).latest_version == 0


async def test_idempotency_key_returns_the_same_version(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    first = await add_version(registry, project, model.name, idempotency_key="train-7")
    again = await add_version(registry, project, model.name, idempotency_key="train-7")
    assert again == first
    assert (await get_model(registry, project.name, model.id)).latest_version == 1


async def test_aliases_move_and_keep_their_history(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    versions = [await add_version(registry, project, model.name) for _ in range(3)]
    await set_alias(registry, project, model.name, "production", 1, actor="alice")
    await set_alias(registry, project, model.name, "production", 2, actor="bob")
    moved = await set_alias(registry, project, model.id, "staging", 3, actor="carol")
    assert dict(moved.aliases) == {"production": 2, "staging": 3}
    by_alias = await registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(project=project.name, model=model.name, alias="production"),
        timeout=5,
    )
    assert by_alias.id == versions[1].id and list(by_alias.aliases) == ["production"]
    old = await registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(project=project.name, id=versions[0].id), timeout=5
    )
    assert list(old.aliases) == []
    assert await history(registry, project, model.name) == [
        ("staging", 0, 3, "carol"),
        ("production", 1, 2, "bob"),
        ("production", 0, 1, "alice"),
    ]
    assert await history(registry, project, model.name, "production") == [
        ("production", 1, 2, "bob"),
        ("production", 0, 1, "alice"),
    ]
    first_page = await registry.stub.ListAliasHistory(
        pb.ListAliasHistoryRequest(
            project=project.name, model=model.name, page=common.PageRequest(page_size=2)
        ),
        timeout=5,
    )
    assert len(first_page.moves) == 2 and first_page.page.next_page_token
    rest = await registry.stub.ListAliasHistory(
        pb.ListAliasHistoryRequest(
            project=project.name,
            model=model.name,
            page=common.PageRequest(page_size=2, page_token=first_page.page.next_page_token),
        ),
        timeout=5,
    )
    assert [(m.alias, m.to_version) for m in rest.moves] == [("production", 1)]
    assert not rest.page.next_page_token
    assert all(m.moved_at.seconds > 0 for m in [*first_page.moves, *rest.moves])
    left = await registry.stub.DeleteModelAlias(
        pb.DeleteModelAliasRequest(project=project.name, model=model.name, alias="staging"),
        metadata=registry.meta("dave"),
        timeout=5,
    )
    assert dict(left.aliases) == {"production": 2}
    assert (await history(registry, project, model.name, "staging"))[0] == ("staging", 3, 0, "dave")
    await refused(
        registry.stub.GetModelVersion(
            pb.GetModelVersionRequest(project=project.name, model=model.name, alias="staging"),
            timeout=5,
        ),
        grpc.StatusCode.NOT_FOUND,
        "no alias 'staging'",
    )


async def test_bad_alias_moves_are_refused_and_change_nothing(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    await add_version(registry, project, model.name)
    gone = await add_version(registry, project, model.name)
    await registry.stub.DeleteModelVersion(
        pb.DeleteRequest(project=project.name, id=gone.id), timeout=5
    )
    await set_alias(registry, project, model.name, "production", 1)
    before = await history(registry, project, model.name)
    await refused(
        set_alias(registry, project, model.name, "production", 9),
        grpc.StatusCode.NOT_FOUND,
        "no live version 9",
    )
    await refused(
        set_alias(registry, project, model.name, "production", 2),
        grpc.StatusCode.NOT_FOUND,
        "no live version 2",
    )
    for alias in ("3", "latest"):
        await refused(
            set_alias(registry, project, model.name, alias, 1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "confused with a version",
        )
    for alias in ("", "a/b", "a..b"):
        await refused(
            set_alias(registry, project, model.name, alias, 1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a valid name",
        )
    await refused(
        registry.stub.DeleteModelAlias(
            pb.DeleteModelAliasRequest(project=project.name, model=model.name, alias="nope"),
            timeout=5,
        ),
        grpc.StatusCode.NOT_FOUND,
        "no alias 'nope'",
    )
    assert await history(registry, project, model.name) == before
    assert dict((await get_model(registry, project.name, model.id)).aliases) == {"production": 1}


async def test_versions_with_alias_or_deployment_cannot_be_deleted(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    versions = [await add_version(registry, project, model.name) for _ in range(4)]
    await set_alias(registry, project, model.name, "production", 1)
    await registry.stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=project.name,
            name=unique("d"),
            model=model.name,
            version=2,
            config=pb.ServingConfig(canary_version=3, canary_percent=10),
        ),
        timeout=5,
    )

    async def delete(version: pb.ModelVersion) -> pb.DeleteResponse:
        return await registry.stub.DeleteModelVersion(
            pb.DeleteRequest(project=project.name, id=version.id), timeout=5
        )

    await refused(
        delete(versions[0]), grpc.StatusCode.FAILED_PRECONDITION, "production", "move them first"
    )
    await refused(delete(versions[1]), grpc.StatusCode.FAILED_PRECONDITION, "is deployed")
    await refused(delete(versions[2]), grpc.StatusCode.FAILED_PRECONDITION, "is deployed")
    listed = await registry.stub.ListModelVersions(
        pb.ListVersionsRequest(project=project.name, parent=model.name), timeout=5
    )
    assert [v.version for v in listed.versions] == [4, 3, 2, 1]
    assert (await delete(versions[3])).deleted_at.seconds > 0
    listed = await registry.stub.ListModelVersions(
        pb.ListVersionsRequest(project=project.name, parent=model.name), timeout=5
    )
    assert [v.version for v in listed.versions] == [3, 2, 1]
    restored = await registry.stub.RestoreModelVersion(
        pb.RestoreRequest(project=project.name, id=versions[3].id), timeout=5
    )
    assert restored.version == 4 and not restored.HasField("deleted_at")


async def test_deployed_model_cannot_be_deleted(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    await add_version(registry, project, model.name)
    deployment = await registry.stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=project.name, name=unique("d"), model=model.name, version=1
        ),
        timeout=5,
    )
    await refused(
        registry.stub.DeleteModel(pb.DeleteRequest(project=project.name, id=model.id), timeout=5),
        grpc.StatusCode.FAILED_PRECONDITION,
        "is deployed",
        "delete its deployments first",
    )
    assert not (await get_model(registry, project.name, model.id)).HasField("deleted_at")
    await registry.stub.DeleteDeployment(
        pb.DeleteRequest(project=project.name, id=deployment.id), timeout=5
    )
    await registry.stub.DeleteModel(pb.DeleteRequest(project=project.name, id=model.id), timeout=5)
    await refused(get_model(registry, project.name, model.name), grpc.StatusCode.NOT_FOUND)
    await refused(add_version(registry, project, model.name), grpc.StatusCode.NOT_FOUND)
    await refused(
        registry.stub.GetModelVersion(
            pb.GetModelVersionRequest(
                project=project.name, model=model.id, version=1, include_deleted=False
            ),
            timeout=5,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    restored = await registry.stub.RestoreModel(
        pb.RestoreRequest(project=project.name, id=model.id), timeout=5
    )
    assert restored.latest_version == 1 and not restored.HasField("deleted_at")


async def test_duplicate_and_bad_model_names(registry: RegistryHandle, project: pb.Project) -> None:
    model = await new_model(registry, project)
    await refused(
        new_model(registry, project, model.name),
        grpc.StatusCode.ALREADY_EXISTS,
        repr(model.name),
        project.name,
    )
    for bad in ("", "a/b", "..", "-m", "m" * 129):
        await refused(
            registry.stub.CreateModel(
                pb.CreateModelRequest(project=project.name, name=bad), timeout=5
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a valid name",
        )
    found = await registry.stub.SearchModels(pb.SearchRequest(project=project.name), timeout=5)
    assert [m.id for m in found.models] == [model.id]


async def test_models_of_other_projects_follow_sharing(
    registry: RegistryHandle, project: pb.Project
) -> None:
    model = await new_model(registry, project)
    version = await add_version(registry, project, model.name)
    friend = await registry.stub.CreateProject(pb.CreateProjectRequest(name=unique("p")), timeout=5)
    ref = f"{project.name}/{model.name}"
    await refused(get_model(registry, friend.name, ref), grpc.StatusCode.NOT_FOUND)
    details = await refused(
        registry.stub.GetModelVersion(
            pb.GetModelVersionRequest(project=friend.name, id=version.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert model.id not in details and model.name not in details
    await registry.stub.SetSharing(
        pb.SetSharingRequest(
            project=project.name,
            entity=common.EntityRef(kind=common.ENTITY_KIND_MODEL, id=model.id),
            sharing=common.Sharing(visibility=common.VISIBILITY_SHARED, shared_with=[friend.name]),
        ),
        timeout=5,
    )
    seen = await registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(project=friend.name, model=ref, version=1), timeout=5
    )
    assert seen.id == version.id
    denied = grpc.StatusCode.PERMISSION_DENIED
    await refused(add_version(registry, friend, model.id), denied, "only its owner")
    await refused(set_alias(registry, friend, ref, "production", 1), denied)
    await refused(
        registry.stub.DeleteModelVersion(
            pb.DeleteRequest(project=friend.name, id=version.id), timeout=5
        ),
        denied,
    )
    after = await get_model(registry, project.name, model.id)
    assert after.latest_version == 1 and dict(after.aliases) == {}
    assert await history(registry, project, model.name) == []


async def test_concurrent_model_versions_get_distinct_numbers_and_one_per_key(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("m")
    await registry.stub.CreateModel(
        pb.CreateModelRequest(project=project.name, name=name), timeout=5
    )

    def version_request(key: str) -> pb.CreateModelVersionRequest:
        return pb.CreateModelVersionRequest(
            project=project.name,
            model=name,
            framework="sklearn",
            artifact_uri=f"file:///m/{key}",
            idempotency_key=key,
        )

    distinct = await asyncio.gather(
        *(registry.stub.CreateModelVersion(version_request(f"k{i}"), timeout=30) for i in range(6))
    )
    assert sorted(v.version for v in distinct) == [1, 2, 3, 4, 5, 6]
    same = await asyncio.gather(
        *(registry.stub.CreateModelVersion(version_request("same"), timeout=30) for _ in range(4))
    )
    assert len({v.id for v in same}) == 1 and same[0].version == 7
