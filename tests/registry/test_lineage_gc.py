"""Lineage walks, and garbage collection of deleted entities and their artifacts (both backends)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from aimass.common.v1 import common_pb2 as common
from aimass.registry.v1 import registry_pb2 as pb
from services.common.store import ArtifactStore
from tests.helpers import refused, unique
from tests.registry.conftest import RegistryHandle

K = common.EntityKind
UP, DOWN = pb.LINEAGE_DIRECTION_UPSTREAM, pb.LINEAGE_DIRECTION_DOWNSTREAM


def ref(kind: common.EntityKind, entity_id: str) -> common.EntityRef:
    return common.EntityRef(kind=kind, id=entity_id)


@dataclass
class Chain:
    source: str
    first: pb.DatasetVersion
    derived: pb.DatasetVersion
    run: pb.Run
    model_version: pb.ModelVersion
    deployment: pb.Deployment

    def refs(self) -> list[tuple[int, str]]:
        return [
            (K.ENTITY_KIND_DEPLOYMENT, self.deployment.id),
            (K.ENTITY_KIND_MODEL_VERSION, self.model_version.id),
            (K.ENTITY_KIND_RUN, self.run.id),
            (K.ENTITY_KIND_DATASET_VERSION, self.derived.id),
            (K.ENTITY_KIND_DATASET_VERSION, self.first.id),
            (K.ENTITY_KIND_SOURCE, self.source),
        ]


async def build_chain(registry: RegistryHandle, project: pb.Project) -> Chain:
    """source -> dataset v1 -> derived v2 -> run -> model version -> deployment."""
    stub, name = registry.stub, project.name
    source = f"file:///raw/{uuid.uuid4().hex}.csv"
    dataset = unique("ds")
    await stub.CreateDataset(pb.CreateDatasetRequest(project=name, name=dataset), timeout=5)
    first = await stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=name,
            dataset=dataset,
            uri="file:///d/1",
            sources=[pb.SourceDescription(kind="file", uri=source)],
        ),
        timeout=5,
    )
    derived = await stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=name, dataset=dataset, uri="file:///d/2", parent_version_ids=[first.id]
        ),
        timeout=5,
    )
    run = await stub.CreateRun(
        pb.CreateRunRequest(project=name, name="train", input_dataset_version_ids=[derived.id]),
        timeout=5,
    )
    model_version = await stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            project=name,
            model=unique("m"),
            create_model=True,
            framework="xgboost",
            artifact_uri="file:///m/1",
            source_run_id=run.id,
        ),
        timeout=5,
    )
    deployment = await stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=name, name=unique("d"), model=model_version.model, version=1
        ),
        timeout=5,
    )
    return Chain(source, first, derived, run, model_version, deployment)


async def lineage(
    registry: RegistryHandle,
    project: pb.Project | str,
    kind: common.EntityKind,
    entity_id: str,
    direction: pb.LineageDirection,
    depth: int = 0,
) -> pb.GetLineageResponse:
    return await registry.stub.GetLineage(
        pb.GetLineageRequest(
            project=project if isinstance(project, str) else project.name,
            entity=ref(kind, entity_id),
            direction=direction,
            depth=depth,
        ),
        timeout=5,
    )


def depths(response: pb.GetLineageResponse) -> dict[tuple[int, str], int]:
    return {(n.entity.kind, n.entity.id): n.depth for n in response.nodes}


def relations(response: pb.GetLineageResponse) -> set[tuple[str, str, str]]:
    return {(e.source.id, e.target.id, e.relation) for e in response.edges}


async def test_upstream_from_a_deployment_reaches_the_source(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    found = await lineage(registry, project, K.ENTITY_KIND_DEPLOYMENT, chain.deployment.id, UP)
    assert depths(found) == {key: depth for depth, key in enumerate(chain.refs())}
    assert not found.truncated
    assert relations(found) == {
        (chain.model_version.id, chain.deployment.id, "deployed_as"),
        (chain.run.id, chain.model_version.id, "produced"),
        (chain.derived.id, chain.run.id, "read_by"),
        (chain.first.id, chain.derived.id, "derived_from"),
        (chain.source, chain.first.id, "ingested_from"),
    }
    assert all(e.created_at.seconds > 0 for e in found.edges)
    nodes = {n.entity.id: n for n in found.nodes}
    assert nodes[chain.first.id].label == f"{chain.first.dataset}@1"
    assert nodes[chain.model_version.id].label == f"{chain.model_version.model}@1"
    assert nodes[chain.deployment.id].label == chain.deployment.name
    assert nodes[chain.run.id].label == "train"
    assert nodes[chain.source].project_id == ""
    assert {nodes[i].project_id for i in (chain.first.id, chain.run.id)} == {project.id}
    assert not any(n.deleted for n in found.nodes)


async def test_downstream_from_the_first_version_reaches_the_deployment(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    found = await lineage(registry, project, K.ENTITY_KIND_DATASET_VERSION, chain.first.id, DOWN)
    downstream = list(reversed(chain.refs()[:-1]))
    assert depths(found) == {key: depth for depth, key in enumerate(downstream)}
    assert not found.truncated
    await registry.stub.DeleteDeployment(
        pb.DeleteRequest(project=project.name, id=chain.deployment.id), timeout=5
    )
    again = await lineage(registry, project, K.ENTITY_KIND_DATASET_VERSION, chain.first.id, DOWN)
    [gone] = [n for n in again.nodes if n.entity.id == chain.deployment.id]
    assert gone.deleted and gone.depth == 4


async def test_a_deployment_moved_to_another_version_is_downstream_of_it(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    model = chain.model_version.model
    second = await registry.stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            project=project.name,
            model=model,
            framework="xgboost",
            artifact_uri="file:///m/2",
            source_run_id=chain.run.id,
        ),
        timeout=5,
    )
    await registry.stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model=model, alias="prod", version=1),
        timeout=5,
    )
    following = await registry.stub.CreateDeployment(
        pb.CreateDeploymentRequest(
            project=project.name, name=unique("d"), model=model, alias="prod"
        ),
        timeout=5,
    )
    await registry.stub.UpdateDeployment(
        pb.UpdateDeploymentRequest(
            project=project.name, deployment=chain.deployment.id, version=2, update_mask=["target"]
        ),
        timeout=5,
    )
    await registry.stub.SetModelAlias(
        pb.SetModelAliasRequest(project=project.name, model=model, alias="prod", version=2),
        timeout=5,
    )
    found = await lineage(registry, project, K.ENTITY_KIND_MODEL_VERSION, second.id, DOWN)
    assert depths(found) == {
        (K.ENTITY_KIND_MODEL_VERSION, second.id): 0,
        (K.ENTITY_KIND_DEPLOYMENT, chain.deployment.id): 1,
        (K.ENTITY_KIND_DEPLOYMENT, following.id): 1,
    }


async def test_depth_limits_the_walk_and_sets_truncated(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    start = (K.ENTITY_KIND_DEPLOYMENT, chain.deployment.id)
    short = await lineage(registry, project, *start, UP, depth=2)
    assert depths(short) == {key: depth for depth, key in enumerate(chain.refs()[:3])}
    assert short.truncated and len(short.edges) == 2
    almost = await lineage(registry, project, *start, UP, depth=4)
    assert almost.truncated and len(almost.nodes) == 5
    exact = await lineage(registry, project, *start, UP, depth=5)
    assert not exact.truncated and len(exact.nodes) == 6


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"direction": pb.LINEAGE_DIRECTION_UNSPECIFIED}, "direction is required"),
        ({"depth": 51}, "out of range"),
        ({"depth": -1}, "out of range"),
        ({"entity": common.EntityRef(id="x")}, "needs a kind and an id"),
        ({"entity": common.EntityRef(kind=K.ENTITY_KIND_RUN)}, "needs a kind and an id"),
    ],
)
async def test_bad_lineage_requests_are_invalid(
    registry: RegistryHandle, project: pb.Project, fields: dict[str, Any], fragment: str
) -> None:
    request = pb.GetLineageRequest(
        project=project.name, direction=UP, entity=ref(K.ENTITY_KIND_SOURCE, "file:///x")
    )
    for name, value in fields.items():
        if isinstance(value, common.EntityRef):
            request.entity.CopyFrom(value)
        else:
            setattr(request, name, value)
    await refused(
        registry.stub.GetLineage(request, timeout=5), grpc.StatusCode.INVALID_ARGUMENT, fragment
    )


async def test_lineage_of_another_projects_entities_is_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    stranger = await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=unique("p")), timeout=5
    )
    hidden = [
        (K.ENTITY_KIND_DEPLOYMENT, chain.deployment.id),
        (K.ENTITY_KIND_MODEL_VERSION, chain.model_version.id),
        (K.ENTITY_KIND_MODEL, chain.model_version.model_id),
        (K.ENTITY_KIND_RUN, chain.run.id),
        (K.ENTITY_KIND_DATASET_VERSION, chain.first.id),
        (K.ENTITY_KIND_DATASET, chain.first.dataset_id),
        (K.ENTITY_KIND_PROJECT, project.id),
        (K.ENTITY_KIND_RUN, uuid.uuid4().hex),
    ]
    for kind, entity_id in hidden:
        details = await refused(
            lineage(registry, stranger, kind, entity_id, UP),
            grpc.StatusCode.NOT_FOUND,
            repr(entity_id),
        )
        assert chain.first.dataset not in details and chain.model_version.model not in details
    await registry.stub.SetSharing(
        pb.SetSharingRequest(
            project=project.name,
            entity=ref(K.ENTITY_KIND_DATASET, chain.first.dataset_id),
            sharing=common.Sharing(visibility=common.VISIBILITY_PUBLIC),
        ),
        timeout=5,
    )
    shared = await lineage(registry, stranger, K.ENTITY_KIND_DATASET_VERSION, chain.first.id, UP)
    assert depths(shared) == {
        (K.ENTITY_KIND_DATASET_VERSION, chain.first.id): 0,
        (K.ENTITY_KIND_SOURCE, chain.source): 1,
    }
    from_source = await lineage(
        registry, stranger, K.ENTITY_KIND_SOURCE, chain.source, DOWN, depth=1
    )
    assert (K.ENTITY_KIND_DATASET_VERSION, chain.first.id) in depths(from_source)
    downstream = await lineage(
        registry, stranger, K.ENTITY_KIND_DATASET_VERSION, chain.first.id, DOWN
    )
    assert set(depths(downstream)) == {
        (K.ENTITY_KIND_DATASET_VERSION, chain.first.id),
        (K.ENTITY_KIND_DATASET_VERSION, chain.derived.id),
    }, "the owner's private run, model and deployment must stay hidden"
    assert {e.target.id for e in downstream.edges} == {chain.derived.id}
    owner_view = await lineage(
        registry, project, K.ENTITY_KIND_DATASET_VERSION, chain.first.id, DOWN
    )
    assert (K.ENTITY_KIND_DEPLOYMENT, chain.deployment.id) in depths(owner_view)


async def test_lineage_edges_only_into_own_entities(
    registry: RegistryHandle, project: pb.Project
) -> None:
    chain = await build_chain(registry, project)
    stranger = await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=unique("p")), timeout=5
    )
    own_run = await registry.stub.CreateRun(
        pb.CreateRunRequest(project=stranger.name, name="mine"), timeout=5
    )
    into_foreign = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_SOURCE, "https://example.org/x"),
        target=ref(K.ENTITY_KIND_RUN, chain.run.id),
    )
    from_foreign = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_RUN, chain.run.id), target=ref(K.ENTITY_KIND_RUN, own_run.id)
    )
    for edge in (into_foreign, from_foreign):
        await refused(
            registry.stub.AddLineageEdges(
                pb.AddLineageEdgesRequest(project=stranger.name, edges=[edge]), timeout=5
            ),
            grpc.StatusCode.NOT_FOUND,
            repr(chain.run.id),
        )
    upstream = await lineage(registry, project, K.ENTITY_KIND_RUN, chain.run.id, UP, depth=1)
    assert "https://example.org/x" not in {n.entity.id for n in upstream.nodes}


async def test_custom_lineage_edges(registry: RegistryHandle, project: pb.Project) -> None:
    chain = await build_chain(registry, project)
    wiki = f"https://wiki.example/{uuid.uuid4().hex}"
    edge = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_SOURCE, wiki),
        target=ref(K.ENTITY_KIND_RUN, chain.run.id),
        relation="documented_in",
    )
    plain = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_SOURCE, wiki + "/raw"), target=ref(K.ENTITY_KIND_RUN, chain.run.id)
    )

    async def add(*edges: pb.LineageEdge) -> int:
        response = await registry.stub.AddLineageEdges(
            pb.AddLineageEdgesRequest(project=project.name, edges=edges), timeout=5
        )
        return response.added

    assert await add(edge, plain) == 2
    assert await add(edge) == 0
    found = await lineage(registry, project, K.ENTITY_KIND_RUN, chain.run.id, UP, depth=1)
    assert {
        (wiki, chain.run.id, "documented_in"),
        (wiki + "/raw", chain.run.id, "related_to"),
    } <= relations(found)
    broken = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_UNSPECIFIED, "x"), target=ref(K.ENTITY_KIND_RUN, chain.run.id)
    )
    other = pb.LineageEdge(
        source=ref(K.ENTITY_KIND_SOURCE, wiki + "/other"),
        target=ref(K.ENTITY_KIND_RUN, chain.run.id),
    )
    await refused(add(other, broken), grpc.StatusCode.INVALID_ARGUMENT, "lineage source")
    await refused(add(*[other] * 1001), grpc.StatusCode.INVALID_ARGUMENT, "at most 1000")
    after = await lineage(registry, project, K.ENTITY_KIND_RUN, chain.run.id, UP, depth=1)
    assert wiki + "/other" not in {n.entity.id for n in after.nodes}


# ---------------------------------------------------------------------------------------------
# Garbage collection


async def put(store: ArtifactStore, prefix: str, *names: str) -> str:
    """Files under ``prefix``; returns the prefix's store URI."""
    for name in names:
        await store.put_bytes(f"{prefix}/{name}", f"{prefix}/{name}".encode())
    return store.prefix_uri(prefix)


async def collect(
    registry: RegistryHandle, dry_run: bool, older_than: int = 0
) -> pb.CollectGarbageResponse:
    return await registry.stub.CollectGarbage(
        pb.CollectGarbageRequest(older_than_seconds=older_than, dry_run=dry_run), timeout=30
    )


def purged(response: pb.CollectGarbageResponse) -> set[tuple[int, str]]:
    return {(r.kind, r.id) for r in response.purged}


async def test_garbage_collection_removes_deleted_artifacts_and_rows(
    registry: RegistryHandle, project: pb.Project, tmp_path: Path
) -> None:
    store = ArtifactStore(registry.settings.resolved_store_url())
    stub, name, u = registry.stub, project.name, uuid.uuid4().hex[:10]
    gone_uri = await put(store, f"datasets/gc-{u}/1", "part-0.parquet", "part-1.parquet")
    shared_uri = await put(store, f"datasets/gc-{u}/shared", "part-0.parquet")
    nest_uri = await put(store, f"datasets/gc-{u}/nest")
    inner_uri = await put(store, f"datasets/gc-{u}/nest/inner", "part-0.parquet")
    slash_uri = await put(store, f"datasets/gc-{u}/6", "part-0.parquet") + "/"
    whole_uri = await put(store, f"datasets/gc-{u}-whole/1", "part-0.parquet")
    model_uri = await put(store, f"models/gc-{u}/1", "model.json")
    live_model_uri = await put(store, f"models/gc-{u}/3", "model.json")
    served_uri = await put(store, f"models/gc-{u}-served/1", "model.json")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not the store's")

    dataset, whole = unique("ds"), unique("whole")
    for dataset_name in (dataset, whole):
        await stub.CreateDataset(
            pb.CreateDatasetRequest(project=name, name=dataset_name), timeout=5
        )

    async def version(uri: str, dataset_name: str = dataset) -> pb.DatasetVersion:
        return await stub.CreateDatasetVersion(
            pb.CreateDatasetVersionRequest(project=name, dataset=dataset_name, uri=uri),
            timeout=5,
        )

    gone, shared_gone, shared_live, nest_gone, inner_live, slash_gone = [
        await version(uri)
        for uri in (gone_uri, shared_uri, shared_uri, nest_uri, inner_uri, slash_uri)
    ]
    whole_version = await version(whole_uri, whole)
    model = unique("m")

    async def model_version(uri: str, model_name: str = model) -> pb.ModelVersion:
        return await stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                project=name,
                model=model_name,
                create_model=True,
                framework="xgboost",
                artifact_uri=uri,
            ),
            timeout=5,
        )

    mv_gone = await model_version(model_uri)
    mv_outside = await model_version(outside.as_uri())
    mv_live = await model_version(live_model_uri)
    served = await model_version(served_uri, unique("served"))
    deployment = await stub.CreateDeployment(
        pb.CreateDeploymentRequest(project=name, name=unique("d"), model=served.model, version=1),
        timeout=5,
    )
    for item in (gone, shared_gone, nest_gone, slash_gone):
        await stub.DeleteDatasetVersion(pb.DeleteRequest(project=name, id=item.id), timeout=5)
    for gone_version in (mv_gone, mv_outside):
        await stub.DeleteModelVersion(pb.DeleteRequest(project=name, id=gone_version.id), timeout=5)
    await stub.DeleteDataset(pb.DeleteRequest(project=name, id=whole_version.dataset_id), timeout=5)
    await stub.DeleteDeployment(pb.DeleteRequest(project=name, id=deployment.id), timeout=5)
    await stub.DeleteModel(pb.DeleteRequest(project=name, id=served.model_id), timeout=5)

    mine = {
        *(
            (K.ENTITY_KIND_DATASET_VERSION, v.id)
            for v in (gone, shared_gone, nest_gone, slash_gone, whole_version)
        ),
        (K.ENTITY_KIND_DATASET, whole_version.dataset_id),
        *((K.ENTITY_KIND_MODEL_VERSION, v.id) for v in (mv_gone, mv_outside, served)),
        (K.ENTITY_KIND_MODEL, served.model_id),
        (K.ENTITY_KIND_DEPLOYMENT, deployment.id),
    }
    live = {
        (K.ENTITY_KIND_DATASET_VERSION, shared_live.id),
        (K.ENTITY_KIND_DATASET_VERSION, inner_live.id),
        (K.ENTITY_KIND_MODEL_VERSION, mv_live.id),
        (K.ENTITY_KIND_MODEL, mv_live.model_id),
        (K.ENTITY_KIND_DATASET, gone.dataset_id),
    }
    doomed = {gone_uri, slash_uri, whole_uri, model_uri, served_uri}
    kept = {shared_uri, nest_uri, outside.as_uri()}
    every_key = await store.list_keys()

    plan = await collect(registry, dry_run=True)
    assert mine <= purged(plan) and not live & purged(plan)
    assert doomed <= set(plan.deleted_uris) and not kept & set(plan.deleted_uris)
    assert kept <= set(plan.kept_uris)
    assert await store.list_keys() == every_key and outside.exists()
    await stub.GetDatasetVersion(
        pb.GetDatasetVersionRequest(project=name, id=gone.id, include_deleted=True), timeout=5
    )

    too_young = await collect(registry, dry_run=False, older_than=3600)
    assert not mine & purged(too_young) and not doomed & set(too_young.deleted_uris)
    assert await store.list_keys() == every_key

    done = await collect(registry, dry_run=False)
    assert mine <= purged(done) and not live & purged(done)
    assert doomed <= set(done.deleted_uris) and kept <= set(done.kept_uris)
    left = set(await store.list_keys())
    for prefix in (
        f"datasets/gc-{u}/1/",
        f"datasets/gc-{u}/6/",
        f"datasets/gc-{u}-whole/",
        f"models/gc-{u}/1/",
        f"models/gc-{u}-served/",
    ):
        assert not any(key.startswith(prefix) for key in left), prefix
    for key in (
        f"datasets/gc-{u}/shared/part-0.parquet",
        f"datasets/gc-{u}/nest/inner/part-0.parquet",
        f"models/gc-{u}/3/model.json",
    ):
        assert key in left, key
    assert outside.read_bytes() == b"not the store's"

    not_found = grpc.StatusCode.NOT_FOUND
    for item in (gone, shared_gone, whole_version):
        await refused(
            stub.GetDatasetVersion(
                pb.GetDatasetVersionRequest(project=name, id=item.id, include_deleted=True),
                timeout=5,
            ),
            not_found,
        )
    await refused(
        stub.GetDataset(
            pb.GetDatasetRequest(project=name, dataset=whole, include_deleted=True), timeout=5
        ),
        not_found,
    )
    await refused(
        stub.GetModelVersion(
            pb.GetModelVersionRequest(project=name, id=mv_gone.id, include_deleted=True), timeout=5
        ),
        not_found,
    )
    await refused(
        stub.GetModel(
            pb.GetModelRequest(project=name, model=served.model, include_deleted=True), timeout=5
        ),
        not_found,
    )
    await refused(
        stub.GetDeployment(
            pb.GetDeploymentRequest(project=name, deployment=deployment.id, include_deleted=True),
            timeout=5,
        ),
        not_found,
    )
    remaining = await stub.ListDatasetVersions(
        pb.ListVersionsRequest(project=name, parent=dataset, include_deleted=True), timeout=5
    )
    assert [v.id for v in remaining.versions] == [inner_live.id, shared_live.id]
    assert (
        await stub.GetModelVersion(pb.GetModelVersionRequest(project=name, model=model), timeout=5)
    ) == mv_live

    again = await collect(registry, dry_run=False)
    assert not mine & purged(again) and not doomed & set(again.deleted_uris)


async def test_negative_retention_is_invalid(registry: RegistryHandle) -> None:
    await refused(
        collect(registry, dry_run=True, older_than=-1),
        grpc.StatusCode.INVALID_ARGUMENT,
        "older_than_seconds",
    )
