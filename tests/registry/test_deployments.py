"""Deployments: pinned and alias-following targets, serving config, revisions and rollback."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest

from aimass.common.v1 import common_pb2 as common
from aimass.registry.v1 import registry_pb2 as pb
from tests.helpers import refused, unique
from tests.registry.conftest import RegistryHandle

DEFAULT_CONFIG = pb.ServingConfig(
    max_batch_size=64, timeout_ms=1000, threads=1, max_queue_size=1024, replicas=1
)


async def model_with_versions(
    registry: RegistryHandle, project: pb.Project, count: int = 3
) -> list[pb.ModelVersion]:
    """A model with ``count`` versions and alias "production" on version 1."""
    name = unique("m")
    versions = [
        await registry.stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                project=project.name,
                model=name,
                create_model=True,
                framework="xgboost",
                artifact_uri=f"file:///m/{i}",
            ),
            timeout=5,
        )
        for i in range(count)
    ]
    await set_alias(registry, project, name, "production", 1)
    return versions


async def set_alias(
    registry: RegistryHandle, project: pb.Project, model: str, alias: str, version: int
) -> pb.Model:
    return await registry.stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model=model, alias=alias, version=version),
        timeout=5,
    )


async def deploy(
    registry: RegistryHandle,
    project: pb.Project,
    model: str,
    *,
    name: str = "",
    version: int = 0,
    alias: str = "",
    actor: str = "tester",
    config: pb.ServingConfig | None = None,
) -> pb.Deployment:
    return await registry.stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=project.name,
            name=name or unique("d"),
            model=model,
            version=version,
            alias=alias,
            config=config,
        ),
        metadata=registry.meta(actor),
        timeout=5,
    )


def canary(version: int, percent: int) -> pb.ServingConfig:
    return pb.ServingConfig(canary_version=version, canary_percent=percent)


async def get(registry: RegistryHandle, project: pb.Project, ref: str) -> pb.Deployment:
    return await registry.stub.GetDeployment(
        pb.GetDeploymentRequest(project=project.name, deployment=ref), timeout=5
    )


async def listed(registry: RegistryHandle, project: str, **fields: Any) -> list[pb.Deployment]:
    found: list[pb.Deployment] = []
    token = ""
    while True:
        response = await registry.stub.ListDeployments(
            pb.ListDeploymentsRequest(
                project=project, page=common.PageRequest(page_size=2, page_token=token), **fields
            ),
            timeout=5,
        )
        found += response.deployments
        token = response.page.next_page_token
        if not token:
            return found


async def revisions(
    registry: RegistryHandle, project: pb.Project, ref: str
) -> list[pb.DeploymentRevision]:
    response = await registry.stub.ListDeploymentRevisions(
        pb.ListDeploymentRevisionsRequest(project=project.name, deployment=ref), timeout=5
    )
    return list(response.revisions)


async def test_pinned_deployment_gets_default_config(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    model = versions[0].model
    created = await deploy(registry, project, model, version=2, actor="alice")
    assert (created.version, created.alias, created.resolved_version) == (2, "", 2)
    assert created.config == DEFAULT_CONFIG and created.revision == 1
    assert created.status == pb.DEPLOYMENT_STATUS_PENDING and created.created_by == "alice"
    assert created.model == model and created.model_id == versions[0].model_id
    assert created.project_id == project.id and created.created_at.seconds > 0
    assert await get(registry, project, created.id) == created
    assert await get(registry, project, created.name) == created
    [revision] = await revisions(registry, project, created.name)
    assert (revision.revision, revision.version, revision.resolved_version) == (1, 2, 2)
    assert revision.config == DEFAULT_CONFIG and revision.actor == "alice"


async def test_alias_following_deployment_resolves_the_alias(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    config = pb.ServingConfig(
        max_batch_size=8,
        max_queue_delay_us=500,
        timeout_ms=250,
        threads=2,
        sample_rate=0.25,
        max_queue_size=16,
        replicas=3,
    )
    created = await deploy(registry, project, versions[0].model, alias="production", config=config)
    assert (created.version, created.alias, created.resolved_version) == (0, "production", 1)
    assert created.config == config


async def test_target_must_be_exactly_one_existing_version_or_alias(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    model = versions[0].model
    bad = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        deploy(registry, project, model, version=1, alias="production"),
        bad,
        "exactly one of version",
    )
    await refused(deploy(registry, project, model), bad, "exactly one of version")
    await refused(
        deploy(registry, project, model, version=9), grpc.StatusCode.NOT_FOUND, "no version 9"
    )
    await refused(
        deploy(registry, project, model, alias="staging"),
        grpc.StatusCode.NOT_FOUND,
        "no alias 'staging'",
    )
    await refused(
        deploy(registry, project, unique("ghost"), version=1),
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    )
    await refused(
        deploy(registry, project, model, name="bad/name", version=1), bad, "not a valid name"
    )
    first = await deploy(registry, project, model, version=1)
    await refused(
        deploy(registry, project, model, name=first.name, version=2),
        grpc.StatusCode.ALREADY_EXISTS,
        repr(first.name),
        project.name,
    )
    assert [d.id for d in await listed(registry, project.name)] == [first.id]
    assert (await get(registry, project, first.name)).resolved_version == 1


async def test_a_deployment_name_is_unique_across_projects(
    registry: RegistryHandle, project: pb.Project
) -> None:
    """Predictors serve deployments by name alone: another project may not take a name in use,
    and what the first project deployed stays as it was."""
    versions = await model_with_versions(registry, project, count=1)
    first = await deploy(registry, project, versions[0].model, version=1)
    other = await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=unique("p")), metadata=registry.meta(), timeout=10
    )
    theirs = await model_with_versions(registry, other, count=1)
    await refused(
        deploy(registry, other, theirs[0].model, name=first.name, version=1),
        grpc.StatusCode.ALREADY_EXISTS,
        repr(first.name),
        "unique across projects",
    )
    assert await listed(registry, other.name) == []
    kept = await get(registry, project, first.name)
    assert (kept.id, kept.model, kept.revision) == (first.id, first.model, first.revision)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_batch_size", 4097),
        ("max_batch_size", -1),
        ("max_queue_delay_us", -1),
        ("max_queue_delay_us", 1_000_001),
        ("timeout_ms", -5),
        ("timeout_ms", 600_001),
        ("threads", 65),
        ("canary_percent", 101),
        ("canary_percent", -1),
        ("max_queue_size", 1_000_001),
        ("replicas", 101),
        ("sample_rate", 1.5),
        ("sample_rate", -0.1),
        ("sample_rate", math.nan),
    ],
)
async def test_config_out_of_range_names_the_field(
    registry: RegistryHandle, project: pb.Project, field: str, value: float
) -> None:
    versions = await model_with_versions(registry, project, count=2)
    config = pb.ServingConfig(canary_version=2 if field == "canary_percent" else 0)
    setattr(config, field, value)
    await refused(
        deploy(registry, project, versions[0].model, version=1, config=config),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"config.{field}",
        "use ",
    )
    assert await listed(registry, project.name) == []


async def test_canary_checks(registry: RegistryHandle, project: pb.Project) -> None:
    versions = await model_with_versions(registry, project)
    model = versions[0].model
    bad = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        deploy(registry, project, model, version=1, config=canary(0, 10)),
        bad,
        "canary_percent needs config.canary_version",
    )
    await refused(
        deploy(registry, project, model, version=1, config=canary(1, 10)),
        bad,
        "must differ from the main version",
    )
    await refused(
        deploy(registry, project, model, alias="production", config=canary(1, 10)),
        bad,
        "must differ",
    )
    await refused(
        deploy(registry, project, model, version=1, config=canary(7, 10)),
        grpc.StatusCode.NOT_FOUND,
        "no version 7",
    )
    assert await listed(registry, project.name) == []
    created = await deploy(registry, project, model, version=1, config=canary(2, 10))
    assert (created.config.canary_version, created.config.canary_percent) == (2, 10)


async def test_updates_make_revisions(registry: RegistryHandle, project: pb.Project) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=1)

    async def update(actor: str = "tester", **fields: Any) -> pb.Deployment:
        return await registry.stub.UpdateDeployment(
            pb.UpdateDeploymentRequest(project=project.name, deployment=created.name, **fields),
            metadata=registry.meta(actor),
            timeout=5,
        )

    moved = await update(version=2, update_mask=["target"], actor="bob")
    assert (moved.revision, moved.version, moved.resolved_version) == (2, 2, 2)
    assert moved.config == DEFAULT_CONFIG
    tuned = await update(
        config=pb.ServingConfig(max_batch_size=32, canary_version=3, canary_percent=5),
        version=1,
        update_mask=["config"],
        actor="carol",
    )
    assert (tuned.revision, tuned.version) == (3, 2)
    assert (tuned.config.max_batch_size, tuned.config.threads) == (32, 1)
    following = await update(alias="production", update_mask=["target"])
    assert (following.revision, following.alias, following.resolved_version) == (4, "production", 1)
    assert following.config.canary_version == 3
    bad = grpc.StatusCode.INVALID_ARGUMENT
    await refused(update(version=3, update_mask=[]), bad, "update_mask")
    await refused(update(version=3, update_mask=["target", "name"]), bad, "update_mask")
    await refused(update(version=3, alias="production", update_mask=["target"]), bad, "exactly one")
    await refused(update(version=3, update_mask=["target"]), bad, "must differ")
    await refused(
        update(config=pb.ServingConfig(threads=100), update_mask=["config"]), bad, "config.threads"
    )
    await refused(update(version=9, update_mask=["target"]), grpc.StatusCode.NOT_FOUND)
    now = await get(registry, project, created.id)
    assert now.revision == 4 and now.resolved_version == 1 and now.config == following.config
    history = await revisions(registry, project, created.id)
    assert [(r.revision, r.version, r.alias, r.resolved_version) for r in history] == [
        (4, 0, "production", 1),
        (3, 2, "", 2),
        (2, 2, "", 2),
        (1, 1, "", 1),
    ]
    assert [r.actor for r in history] == ["tester", "carol", "bob", "tester"]
    assert history[1].config.max_batch_size == 32 and history[2].config == DEFAULT_CONFIG


async def test_rollback_makes_a_new_revision_with_the_old_target(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=1)
    for version in (2, 3):
        await registry.stub.UpdateDeployment(
            pb.UpdateDeploymentRequest(
                project=project.name, deployment=created.id, version=version, update_mask=["target"]
            ),
            timeout=5,
        )

    async def rollback(to_revision: int = 0) -> pb.Deployment:
        return await registry.stub.RollbackDeployment(
            pb.RollbackDeploymentRequest(
                project=project.name, deployment=created.name, to_revision=to_revision
            ),
            metadata=registry.meta("ops"),
            timeout=5,
        )

    previous = await rollback()
    assert (previous.revision, previous.version, previous.resolved_version) == (4, 2, 2)
    assert previous.status == pb.DEPLOYMENT_STATUS_PENDING
    assert "rolled back to revision 2" in previous.status_message
    first = await rollback(to_revision=1)
    assert (first.revision, first.version) == (5, 1)
    for wanted in (5, 6, 99, -1):
        await refused(
            rollback(wanted), grpc.StatusCode.FAILED_PRECONDITION, "roll back to one of 1..4"
        )
    assert (await get(registry, project, created.id)).revision == 5
    history = await revisions(registry, project, created.id)
    assert [(r.revision, r.version, r.actor) for r in history[:2]] == [(5, 1, "ops"), (4, 2, "ops")]


async def test_rollback_without_an_earlier_revision_is_refused(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=1)
    await refused(
        registry.stub.RollbackDeployment(
            pb.RollbackDeploymentRequest(project=project.name, deployment=created.name),
            timeout=5,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "no earlier revision",
    )
    assert await get(registry, project, created.id) == created
    assert len(await revisions(registry, project, created.id)) == 1


async def test_moving_the_alias_moves_the_deployments_that_follow_it(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    model = versions[0].model
    following = await deploy(registry, project, model, alias="production")
    pinned = await deploy(registry, project, model, version=1)
    await registry.stub.UpdateDeploymentStatus(
        pb.UpdateDeploymentStatusRequest(
            project=project.name, deployment=following.id, status=pb.DEPLOYMENT_STATUS_READY
        ),
        timeout=5,
    )
    await set_alias(registry, project, model, "production", 3)
    moved = await get(registry, project, following.id)
    assert (moved.resolved_version, moved.revision) == (3, 2)
    assert moved.status == pb.DEPLOYMENT_STATUS_PENDING
    [latest, *_] = await revisions(registry, project, following.id)
    assert (latest.revision, latest.alias, latest.resolved_version) == (2, "production", 3)
    assert await get(registry, project, pinned.id) == pinned
    await set_alias(registry, project, model, "production", 3)
    assert (await get(registry, project, following.id)).revision == 2
    await registry.stub.DeleteModelAlias(
        pb.DeleteModelAliasRequest(project=project.name, model=model, alias="production"),
        timeout=5,
    )
    orphaned = await get(registry, project, following.id)
    assert orphaned.status == pb.DEPLOYMENT_STATUS_FAILED
    assert "alias 'production' was removed" in orphaned.status_message
    assert orphaned.resolved_version == 3


async def test_status_updates(registry: RegistryHandle, project: pb.Project) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=1)

    async def status(value: pb.DeploymentStatus, message: str = "") -> pb.Deployment:
        return await registry.stub.UpdateDeploymentStatus(
            pb.UpdateDeploymentStatusRequest(
                project=project.name, deployment=created.name, status=value, message=message
            ),
            timeout=5,
        )

    ready = await status(pb.DEPLOYMENT_STATUS_READY, "serving on predictor-0")
    assert ready.status == pb.DEPLOYMENT_STATUS_READY
    assert ready.status_message == "serving on predictor-0" and ready.revision == 1
    await refused(
        status(pb.DEPLOYMENT_STATUS_UNSPECIFIED),
        grpc.StatusCode.INVALID_ARGUMENT,
        "status is required",
    )
    await refused(
        status(pb.DEPLOYMENT_STATUS_FAILED, "m" * 10_001),
        grpc.StatusCode.INVALID_ARGUMENT,
        "message",
    )
    assert await get(registry, project, created.id) == ready
    await refused(
        registry.stub.UpdateDeploymentStatus(
            pb.UpdateDeploymentStatusRequest(
                project=project.name, deployment="ghost", status=pb.DEPLOYMENT_STATUS_READY
            ),
            timeout=5,
        ),
        grpc.StatusCode.NOT_FOUND,
        "'ghost' does not exist",
    )


async def test_list_deployments_in_a_project_and_across_projects(
    registry: RegistryHandle, project: pb.Project
) -> None:
    other = await registry.stub.CreateProject(pb.CreateProjectRequest(name=unique("p")), timeout=5)
    mine = await model_with_versions(registry, project, count=1)
    theirs = await model_with_versions(registry, other, count=1)
    a = await deploy(registry, project, mine[0].model, version=1)
    b = await deploy(registry, project, mine[0].model, alias="production")
    c = await deploy(registry, project, mine[0].model, version=1)
    d = await deploy(registry, other, theirs[0].model, version=1)
    assert sorted(x.id for x in await listed(registry, project.name)) == sorted([a.id, b.id, c.id])
    assert [x.id for x in await listed(registry, other.name)] == [d.id]
    everywhere = {x.id: x for x in await listed(registry, "")}
    assert {a.id, b.id, c.id, d.id} <= set(everywhere)
    assert everywhere[d.id].project_id == other.id and everywhere[d.id].model == theirs[0].model
    by_model = await listed(registry, "", model=theirs[0].model_id)
    assert [x.id for x in by_model] == [d.id]
    await refused(listed(registry, "no-such-project"), grpc.StatusCode.NOT_FOUND)
    await refused(get(registry, other, a.id), grpc.StatusCode.NOT_FOUND)


async def test_delete_and_restore(registry: RegistryHandle, project: pb.Project) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=2)
    deleted = await registry.stub.DeleteDeployment(
        pb.DeleteRequest(project=project.name, id=created.id), timeout=5
    )
    assert deleted.deleted_at.seconds > 0
    await refused(get(registry, project, created.name), grpc.StatusCode.NOT_FOUND)
    shown = await registry.stub.GetDeployment(
        pb.GetDeploymentRequest(project=project.name, deployment=created.id, include_deleted=True),
        timeout=5,
    )
    assert shown.status == pb.DEPLOYMENT_STATUS_STOPPED and shown.HasField("deleted_at")
    assert await listed(registry, project.name) == []
    assert [x.id for x in await listed(registry, project.name, include_deleted=True)] == [
        created.id
    ]
    restored = await registry.stub.RestoreDeployment(
        pb.RestoreRequest(project=project.name, id=created.id), timeout=5
    )
    assert restored.status == pb.DEPLOYMENT_STATUS_PENDING
    assert not restored.HasField("deleted_at") and restored.resolved_version == 2
    await refused(
        registry.stub.RestoreDeployment(
            pb.RestoreRequest(project=project.name, id=created.id), timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "nothing to restore",
    )


async def test_restore_refuses_a_deployment_whose_version_is_gone(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    created = await deploy(registry, project, versions[0].model, version=2)
    await registry.stub.DeleteDeployment(
        pb.DeleteRequest(project=project.name, id=created.id), timeout=5
    )
    await registry.stub.DeleteModelVersion(
        pb.DeleteRequest(project=project.name, id=versions[1].id), timeout=5
    )
    await refused(
        registry.stub.RestoreDeployment(
            pb.RestoreRequest(project=project.name, id=created.id), timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "cannot be restored",
        "@2 is deleted",
    )
    still = await registry.stub.GetDeployment(
        pb.GetDeploymentRequest(project=project.name, deployment=created.id, include_deleted=True),
        timeout=5,
    )
    assert still.HasField("deleted_at") and still.status == pb.DEPLOYMENT_STATUS_STOPPED


async def test_restore_follows_an_alias_that_moved_meanwhile(
    registry: RegistryHandle, project: pb.Project
) -> None:
    versions = await model_with_versions(registry, project)
    model = versions[0].model
    created = await deploy(registry, project, model, alias="production")
    await registry.stub.DeleteDeployment(
        pb.DeleteRequest(project=project.name, id=created.id), timeout=5
    )
    await set_alias(registry, project, model, "production", 2)
    restored = await registry.stub.RestoreDeployment(
        pb.RestoreRequest(project=project.name, id=created.id), timeout=5
    )
    assert (restored.resolved_version, restored.revision) == (2, 2)
