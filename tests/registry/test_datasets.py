"""Datasets, their immutable versions and sharing, through a real gRPC channel on both backends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest

from aimass.common.v1 import common_pb2 as common
from aimass.registry.v1 import registry_pb2 as pb
from tests.helpers import refused, unique
from tests.registry.conftest import RegistryHandle

DATASET = common.ENTITY_KIND_DATASET


async def new_project(registry: RegistryHandle) -> pb.Project:
    return await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=unique("p")), metadata=registry.meta(), timeout=5
    )


async def new_dataset(registry: RegistryHandle, project: pb.Project, name: str = "") -> pb.Dataset:
    return await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name=name or unique("ds")),
        metadata=registry.meta(),
        timeout=5,
    )


async def add_version(
    registry: RegistryHandle, project: pb.Project, dataset: str, **fields: Any
) -> pb.DatasetVersion:
    fields.setdefault("uri", f"file:///data/{uuid.uuid4().hex}")
    return await registry.stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(project=project.name, dataset=dataset, **fields),
        metadata=registry.meta(),
        timeout=5,
    )


async def get_dataset(registry: RegistryHandle, project: str, ref: str) -> pb.Dataset:
    return await registry.stub.GetDataset(
        pb.GetDatasetRequest(project=project, dataset=ref), timeout=5
    )


def full_version_request() -> dict[str, Any]:
    schema = common.Schema(
        fields=[
            common.Field(name="sepal_length", type=common.DATA_TYPE_FP64, nullable=False),
            common.Field(name="species", type=common.DATA_TYPE_STRING, logical_type="category"),
        ]
    )
    statistics = [
        common.ColumnStatistics(
            name="sepal_length",
            count=150,
            null_count=0,
            distinct_estimate=35,
            min=4.3,
            max=7.9,
            mean=5.84,
            std=0.83,
            quantiles=[common.Quantile(q=0.5, value=5.8)],
            histogram=[
                common.HistogramBin(lower=4.3, upper=6.1, count=90),
                common.HistogramBin(lower=6.1, upper=7.9, count=60),
            ],
        ),
        common.ColumnStatistics(
            name="species",
            count=150,
            distinct_estimate=3,
            top_values=[common.ValueCount(value="setosa", count=50)],
            min_text="setosa",
            max_text="virginica",
        ),
    ]
    sources = [
        pb.SourceDescription(
            kind="file",
            uri="file:///raw/iris.csv",
            description="the iris csv",
            options={"delimiter": ","},
        )
    ]
    return {
        "uri": "file:///store/datasets/iris/1",
        "content_hash": "sha256:" + "ab" * 32,
        "schema": schema,
        "row_count": 150,
        "size_bytes": 4_096,
        "statistics": statistics,
        "sources": sources,
        "split_rows": {"train": 120, "test": 30},
        "recipe_json": '{"steps": []}',
        "description": "first cut",
        "tags": {"stage": "raw"},
        "skipped_rows": 2,
    }


async def test_create_and_get_dataset_by_id_name_and_owner_path(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("iris")
    created = await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(
            project=project.name, name=name, description="flowers", tags={"domain": "botany"}
        ),
        metadata=registry.meta("alice"),
        timeout=5,
    )
    assert created.name == name and created.project == project.name
    assert created.project_id == project.id and created.owner == "alice"
    assert created.tags == {"domain": "botany"} and created.latest_version == 0
    assert created.sharing.visibility == common.VISIBILITY_PRIVATE
    assert created.created_at.seconds > 0 and not created.HasField("deleted_at")
    for ref in (created.id, name, f"{project.name}/{name}"):
        assert await get_dataset(registry, project.name, ref) == created


async def test_versions_are_numbered_and_keep_what_they_were_given(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    first = await registry.stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=project.name, dataset=dataset.name, **full_version_request()
        ),
        metadata=registry.meta("bob"),
        timeout=5,
    )
    wanted = pb.CreateDatasetVersionRequest(**full_version_request())
    assert first.version == 1 and first.dataset == dataset.name
    assert first.dataset_id == dataset.id and first.project_id == project.id
    assert first.schema == wanted.schema and list(first.statistics) == list(wanted.statistics)
    assert list(first.sources) == list(wanted.sources)
    assert first.split_rows == {"train": 120, "test": 30} and first.tags == {"stage": "raw"}
    assert (first.row_count, first.size_bytes, first.skipped_rows) == (150, 4_096, 2)
    assert first.content_hash == wanted.content_hash and first.recipe_json == wanted.recipe_json
    assert first.created_by == "bob" and first.description == "first cut"
    assert first.statistics[1].HasField("min") is False
    second = await add_version(registry, project, dataset.id, parent_version_ids=[first.id])
    third = await add_version(
        registry, project, dataset.name, parent_version_ids=[first.id, second.id]
    )
    assert (second.version, third.version) == (2, 3)
    assert list(third.parent_version_ids) == [first.id, second.id]
    by_id = await registry.stub.GetDatasetVersion(
        pb.GetDatasetVersionRequest(project=project.name, id=first.id), timeout=5
    )
    assert by_id == first
    assert (await get_dataset(registry, project.name, dataset.id)).latest_version == 3


async def test_parent_versions_must_exist_and_be_visible(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    live = await add_version(registry, project, dataset.name)
    gone = await add_version(registry, project, dataset.name)
    await registry.stub.DeleteDatasetVersion(
        pb.DeleteRequest(project=project.name, id=gone.id), timeout=5
    )
    other = await new_project(registry)
    hidden_dataset = await new_dataset(registry, other)
    hidden = await add_version(registry, other, hidden_dataset.name)
    missing = uuid.uuid4().hex
    for parent in (missing, gone.id, hidden.id):
        details = await refused(
            add_version(registry, project, dataset.name, parent_version_ids=[live.id, parent]),
            grpc.StatusCode.NOT_FOUND,
            f"parent dataset version {parent!r} does not exist",
        )
        assert hidden_dataset.id not in details and hidden_dataset.name not in details
    after = await get_dataset(registry, project.name, dataset.id)
    assert after.latest_version == 2
    listed = await registry.stub.ListDatasetVersions(
        pb.ListVersionsRequest(project=project.name, parent=dataset.id), timeout=5
    )
    assert [v.version for v in listed.versions] == [1]


async def test_idempotency_key_returns_the_version_already_made(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    first = await add_version(
        registry, project, dataset.name, uri="file:///a", idempotency_key="ingest-42"
    )
    again = await add_version(
        registry, project, dataset.name, uri="file:///a", idempotency_key="ingest-42"
    )
    assert again == first and first.version == 1
    other = await add_version(registry, project, dataset.name, idempotency_key="ingest-43")
    assert other.version == 2 and other.id != first.id
    assert (await get_dataset(registry, project.name, dataset.name)).latest_version == 2


async def test_version_zero_is_the_latest_live_version(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    versions = [await add_version(registry, project, dataset.name) for _ in range(3)]

    async def get(version: int, include_deleted: bool = False) -> pb.DatasetVersion:
        return await registry.stub.GetDatasetVersion(
            pb.GetDatasetVersionRequest(
                project=project.name,
                dataset=dataset.name,
                version=version,
                include_deleted=include_deleted,
            ),
            timeout=5,
        )

    assert await get(0) == versions[2]
    deleted = await registry.stub.DeleteDatasetVersion(
        pb.DeleteRequest(project=project.name, id=versions[2].id), timeout=5
    )
    assert deleted.deleted_at.seconds > 0
    assert (await get(0)).id == versions[1].id
    await refused(get(3), grpc.StatusCode.NOT_FOUND, f"{dataset.name}@3 is deleted")
    assert (await get(3, include_deleted=True)).HasField("deleted_at")
    await refused(get(99), grpc.StatusCode.NOT_FOUND, "has no version 99")
    await refused(
        registry.stub.DeleteDatasetVersion(
            pb.DeleteRequest(project=project.name, id=versions[2].id), timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "already deleted",
    )
    restored = await registry.stub.RestoreDatasetVersion(
        pb.RestoreRequest(project=project.name, id=versions[2].id), timeout=5
    )
    assert not restored.HasField("deleted_at") and await get(0) == versions[2]
    await refused(
        registry.stub.RestoreDatasetVersion(
            pb.RestoreRequest(project=project.name, id=versions[2].id), timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "nothing to restore",
    )
    await refused(
        registry.stub.GetDatasetVersion(
            pb.GetDatasetVersionRequest(project=project.name, id=uuid.uuid4().hex), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    )


async def test_list_versions_is_paged_newest_first(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    versions = [await add_version(registry, project, dataset.name) for _ in range(5)]
    await registry.stub.DeleteDatasetVersion(
        pb.DeleteRequest(project=project.name, id=versions[3].id), timeout=5
    )

    async def pages(include_deleted: bool) -> list[list[int]]:
        found: list[list[int]] = []
        token = ""
        while True:
            response = await registry.stub.ListDatasetVersions(
                pb.ListVersionsRequest(
                    project=project.name,
                    parent=dataset.name,
                    include_deleted=include_deleted,
                    page=common.PageRequest(page_size=2, page_token=token),
                ),
                timeout=5,
            )
            found.append([v.version for v in response.versions])
            token = response.page.next_page_token
            if not token:
                return found

    assert await pages(include_deleted=True) == [[5, 4], [3, 2], [1]]
    assert await pages(include_deleted=False) == [[5, 3], [2, 1]]
    await refused(
        registry.stub.ListDatasetVersions(
            pb.ListVersionsRequest(
                project=project.name,
                parent=dataset.name,
                page=common.PageRequest(page_token="garbage!"),
            ),
            timeout=5,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )


async def test_delete_and_restore_dataset(registry: RegistryHandle, project: pb.Project) -> None:
    dataset = await new_dataset(registry, project)
    version = await add_version(registry, project, dataset.name)
    deleted = await registry.stub.DeleteDataset(
        pb.DeleteRequest(project=project.name, id=dataset.id), timeout=5
    )
    assert deleted.deleted_at.seconds > 0
    await refused(get_dataset(registry, project.name, dataset.name), grpc.StatusCode.NOT_FOUND)
    shown = await registry.stub.GetDataset(
        pb.GetDatasetRequest(project=project.name, dataset=dataset.id, include_deleted=True),
        timeout=5,
    )
    assert shown.HasField("deleted_at")
    await refused(
        registry.stub.GetDatasetVersion(
            pb.GetDatasetVersionRequest(project=project.name, id=version.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
        "is deleted",
    )
    await refused(add_version(registry, project, dataset.id), grpc.StatusCode.NOT_FOUND)
    await refused(
        registry.stub.CreateDataset(
            pb.CreateDatasetRequest(project=project.name, name=dataset.name), timeout=5
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "possibly deleted",
    )
    restored = await registry.stub.RestoreDataset(
        pb.RestoreRequest(project=project.name, id=dataset.id), timeout=5
    )
    assert not restored.HasField("deleted_at") and restored.latest_version == 1
    assert (await get_dataset(registry, project.name, dataset.name)).id == dataset.id
    await refused(
        registry.stub.RestoreDataset(
            pb.RestoreRequest(project=project.name, id=dataset.id), timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "nothing to restore",
    )


async def test_duplicate_dataset_name_is_already_exists(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("dup")
    original = await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name=name, description="original"),
        timeout=5,
    )
    await refused(
        registry.stub.CreateDataset(
            pb.CreateDatasetRequest(
                project=project.name, name=name, description="impostor", tags={"x": "y"}
            ),
            timeout=5,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        repr(name),
        project.name,
    )
    assert await get_dataset(registry, project.name, name) == original
    other = await new_project(registry)
    elsewhere = await new_dataset(registry, other, name)
    assert elsewhere.id != original.id


@pytest.mark.parametrize(
    "bad_name", ["", "a/b", "..", "a..b", "-x", ".hidden", "x" * 129, "tab\tname", "ünï"]
)
async def test_bad_dataset_names_are_refused(
    registry: RegistryHandle, project: pb.Project, bad_name: str
) -> None:
    await refused(
        registry.stub.CreateDataset(
            pb.CreateDatasetRequest(project=project.name, name=bad_name), timeout=5
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not a valid name",
        "letters, digits",
    )
    found = await registry.stub.SearchDatasets(pb.SearchRequest(project=project.name), timeout=5)
    assert list(found.datasets) == []


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"uri": ""}, "uri"),
        ({"row_count": -1}, "cannot be negative"),
        ({"split_rows": {"train": -5}}, "negative row count"),
        ({"split_rows": {"a..b": 5}}, "split name"),
        (
            {"schema": common.Schema(fields=[common.Field(name="a"), common.Field(name="a")])},
            "unique",
        ),
        ({"tags": {"bad key!": "v"}}, "tag key"),
        ({"description": "x" * 20_001}, "limit is 20000"),
    ],
)
async def test_bad_versions_are_refused_and_change_nothing(
    registry: RegistryHandle, project: pb.Project, fields: dict[str, Any], fragment: str
) -> None:
    dataset = await new_dataset(registry, project)
    await refused(
        add_version(registry, project, dataset.name, **fields),
        grpc.StatusCode.INVALID_ARGUMENT,
        fragment,
    )
    assert (await get_dataset(registry, project.name, dataset.name)).latest_version == 0


async def test_unknown_project_and_dataset_are_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await refused(get_dataset(registry, "nope-404", "x"), grpc.StatusCode.NOT_FOUND, "nope-404")
    await refused(
        get_dataset(registry, project.name, "ghost"),
        grpc.StatusCode.NOT_FOUND,
        "'ghost' does not exist",
    )
    await refused(
        get_dataset(registry, project.name, ""),
        grpc.StatusCode.INVALID_ARGUMENT,
        "dataset is required",
    )


async def test_private_dataset_of_another_project_is_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    version = await add_version(registry, project, dataset.name)
    stranger = await new_project(registry)
    hidden = await refused(
        get_dataset(registry, stranger.name, f"{project.name}/{dataset.name}"),
        grpc.StatusCode.NOT_FOUND,
    )
    absent = await refused(
        get_dataset(registry, stranger.name, f"{project.name}/no-such"), grpc.StatusCode.NOT_FOUND
    )
    assert hidden.replace(dataset.name, "no-such") == absent
    await refused(get_dataset(registry, stranger.name, dataset.id), grpc.StatusCode.NOT_FOUND)
    details = await refused(
        registry.stub.GetDatasetVersion(
            pb.GetDatasetVersionRequest(project=stranger.name, id=version.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert dataset.id not in details and dataset.name not in details
    await refused(
        registry.stub.ListDatasetVersions(
            pb.ListVersionsRequest(project=stranger.name, parent=dataset.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(add_version(registry, stranger, dataset.id), grpc.StatusCode.NOT_FOUND)
    await refused(
        registry.stub.DeleteDatasetVersion(
            pb.DeleteRequest(project=stranger.name, id=version.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(
        registry.stub.DeleteDataset(
            pb.DeleteRequest(project=stranger.name, id=dataset.id), timeout=5
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    found = await registry.stub.SearchDatasets(
        pb.SearchRequest(project=stranger.name, include_shared=True), timeout=5
    )
    assert dataset.id not in [d.id for d in found.datasets]
    after = await get_dataset(registry, project.name, dataset.id)
    assert after.latest_version == 1 and not after.HasField("deleted_at")
    assert after.sharing.visibility == common.VISIBILITY_PRIVATE


async def set_sharing(
    registry: RegistryHandle,
    project: pb.Project,
    entity_id: str,
    visibility: common.Visibility,
    shared_with: list[str] | None = None,
    kind: common.EntityKind = DATASET,
) -> common.Sharing:
    return await registry.stub.SetSharing(
        pb.SetSharingRequest(
            project=project.name,
            entity=common.EntityRef(kind=kind, id=entity_id),
            sharing=common.Sharing(visibility=visibility, shared_with=shared_with or []),
        ),
        metadata=registry.meta(),
        timeout=5,
    )


async def test_shared_dataset_can_be_read_but_not_changed_by_the_other_project(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    version = await add_version(registry, project, dataset.name)
    friend, stranger = await new_project(registry), await new_project(registry)
    sharing = await set_sharing(
        registry, project, dataset.id, common.VISIBILITY_SHARED, [friend.name, friend.name]
    )
    assert sharing.visibility == common.VISIBILITY_SHARED
    assert list(sharing.shared_with) == [friend.name]
    ref = f"{project.name}/{dataset.name}"
    seen = await get_dataset(registry, friend.name, ref)
    assert seen.id == dataset.id and seen.project == project.name
    assert (await get_dataset(registry, friend.name, dataset.id)).id == dataset.id
    latest = await registry.stub.GetDatasetVersion(
        pb.GetDatasetVersionRequest(project=friend.name, dataset=ref), timeout=5
    )
    assert latest.id == version.id
    listed = await registry.stub.ListDatasetVersions(
        pb.ListVersionsRequest(project=friend.name, parent=ref), timeout=5
    )
    assert [v.id for v in listed.versions] == [version.id]
    found = await registry.stub.SearchDatasets(
        pb.SearchRequest(project=friend.name, include_shared=True), timeout=5
    )
    assert dataset.id in [d.id for d in found.datasets]
    derived_from_shared = await add_version(
        registry,
        friend,
        (await new_dataset(registry, friend)).name,
        parent_version_ids=[version.id],
    )
    assert list(derived_from_shared.parent_version_ids) == [version.id]
    denied = grpc.StatusCode.PERMISSION_DENIED
    await refused(add_version(registry, friend, dataset.id), denied, "only its owner")
    await refused(add_version(registry, friend, ref), denied, "only its owner")
    await refused(
        registry.stub.UpdateDataset(
            pb.UpdateDatasetRequest(
                project=friend.name,
                dataset=ref,
                description="mine now",
                update_mask=["description"],
            ),
            timeout=5,
        ),
        denied,
    )
    await refused(
        registry.stub.DeleteDataset(
            pb.DeleteRequest(project=friend.name, id=dataset.id), timeout=5
        ),
        denied,
    )
    await refused(
        registry.stub.DeleteDatasetVersion(
            pb.DeleteRequest(project=friend.name, id=version.id), timeout=5
        ),
        denied,
    )
    await refused(set_sharing(registry, friend, dataset.id, common.VISIBILITY_PUBLIC), denied)
    await refused(get_dataset(registry, stranger.name, ref), grpc.StatusCode.NOT_FOUND)
    after = await get_dataset(registry, project.name, dataset.id)
    assert after.latest_version == 1 and after.description == dataset.description
    assert after.sharing == sharing and not after.HasField("deleted_at")


async def test_public_is_visible_to_all_and_private_hides_again(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    friend, stranger = await new_project(registry), await new_project(registry)
    ref = f"{project.name}/{dataset.name}"
    await set_sharing(registry, project, dataset.id, common.VISIBILITY_SHARED, [friend.name])
    public = await set_sharing(registry, project, dataset.id, common.VISIBILITY_PUBLIC)
    assert public.visibility == common.VISIBILITY_PUBLIC and list(public.shared_with) == []
    for viewer in (friend, stranger):
        assert (await get_dataset(registry, viewer.name, ref)).id == dataset.id
    found = await registry.stub.SearchDatasets(
        pb.SearchRequest(project=stranger.name, include_shared=True), timeout=5
    )
    assert dataset.id in [d.id for d in found.datasets]
    private = await set_sharing(registry, project, dataset.id, common.VISIBILITY_PRIVATE)
    assert private.visibility == common.VISIBILITY_PRIVATE
    for viewer in (friend, stranger):
        await refused(get_dataset(registry, viewer.name, ref), grpc.StatusCode.NOT_FOUND)
        await refused(get_dataset(registry, viewer.name, dataset.id), grpc.StatusCode.NOT_FOUND)
    assert (await get_dataset(registry, project.name, ref)).sharing == private


async def test_bad_sharing_is_refused_and_changes_nothing(
    registry: RegistryHandle, project: pb.Project
) -> None:
    dataset = await new_dataset(registry, project)
    friend = await new_project(registry)
    before = await set_sharing(
        registry, project, dataset.id, common.VISIBILITY_SHARED, [friend.name]
    )
    await refused(
        set_sharing(registry, project, dataset.id, common.VISIBILITY_SHARED, []),
        grpc.StatusCode.INVALID_ARGUMENT,
        "at least one project",
    )
    await refused(
        set_sharing(
            registry,
            project,
            dataset.id,
            common.VISIBILITY_SHARED,
            [friend.name, "no-such-project-x"],
        ),
        grpc.StatusCode.NOT_FOUND,
        "no-such-project-x",
    )
    await refused(
        set_sharing(registry, project, dataset.id, common.VISIBILITY_UNSPECIFIED),
        grpc.StatusCode.INVALID_ARGUMENT,
        "visibility is required",
    )
    await refused(
        set_sharing(
            registry,
            project,
            uuid.uuid4().hex,
            common.VISIBILITY_PUBLIC,
            kind=common.ENTITY_KIND_RUN,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "only datasets and models",
    )
    await refused(
        set_sharing(registry, project, uuid.uuid4().hex, common.VISIBILITY_PUBLIC),
        grpc.StatusCode.NOT_FOUND,
    )
    assert (await get_dataset(registry, project.name, dataset.id)).sharing == before
    assert (await get_dataset(registry, friend.name, dataset.id)).id == dataset.id


async def test_update_and_tags(registry: RegistryHandle, project: pb.Project) -> None:
    dataset = await new_dataset(registry, project)
    updated = await registry.stub.UpdateDataset(
        pb.UpdateDatasetRequest(
            project=project.name,
            dataset=dataset.name,
            description="new",
            owner="carol",
            update_mask=["description", "owner"],
        ),
        timeout=5,
    )
    assert (updated.description, updated.owner) == ("new", "carol")
    await refused(
        registry.stub.UpdateDataset(
            pb.UpdateDatasetRequest(
                project=project.name, dataset=dataset.name, description="x", update_mask=["name"]
            ),
            timeout=5,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "update_mask",
    )
    entity = common.EntityRef(kind=DATASET, id=dataset.id)
    tags = await registry.stub.SetTags(
        pb.SetTagsRequest(project=project.name, entity=entity, tags={"a": "1", "b": "2"}),
        timeout=5,
    )
    assert tags.tags == {"a": "1", "b": "2"}
    left = await registry.stub.DeleteTags(
        pb.DeleteTagsRequest(project=project.name, entity=entity, keys=["a"]), timeout=5
    )
    assert left.tags == {"b": "2"}
    await refused(
        registry.stub.SetTags(
            pb.SetTagsRequest(project=project.name, entity=entity, tags={"c": "x" * 5_001}),
            timeout=5,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "limit is 5000",
    )
    after = await get_dataset(registry, project.name, dataset.id)
    assert after.tags == {"b": "2"} and after.description == "new"


async def test_concurrent_versions_get_distinct_numbers_and_one_per_key(
    registry: RegistryHandle, project: pb.Project
) -> None:
    name = unique("ds")
    await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name=name), timeout=5
    )

    def version_request(key: str) -> pb.CreateDatasetVersionRequest:
        return pb.CreateDatasetVersionRequest(
            project=project.name, dataset=name, uri=f"file:///d/{key}", idempotency_key=key
        )

    distinct = await asyncio.gather(
        *(
            registry.stub.CreateDatasetVersion(version_request(f"k{i}"), timeout=30)
            for i in range(6)
        )
    )
    assert sorted(v.version for v in distinct) == [1, 2, 3, 4, 5, 6]
    same = await asyncio.gather(
        *(registry.stub.CreateDatasetVersion(version_request("same"), timeout=30) for _ in range(4))
    )
    assert len({v.id for v in same}) == 1 and same[0].version == 7
