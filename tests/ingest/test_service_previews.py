"""Dry runs: PreviewIngest runs the recipe on the first rows and writes nothing;
PreviewDatasetVersion shows the first rows of a stored version."""

from __future__ import annotations

import grpc
import pytest

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from tests.ingest.conftest import META, IngestHandle, file_recipe, run_job


async def test_preview_ingest_runs_the_recipe_on_a_sample(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    recipe = file_recipe(
        (ingest.data_dir / "iris.csv").as_uri(),
        steps=[
            pb.Step(
                derive=pb.DeriveStep(
                    column="petal ratio",
                    expression='"petal length (cm)" / "petal width (cm)"',
                )
            ),
            pb.Step(select=pb.SelectStep(columns=["petal ratio", "target"])),
        ],
    )
    preview = await ingest.stub.PreviewIngest(
        pb.PreviewIngestRequest(project=project.name, recipe=recipe, sample_rows=40, limit=10),
        metadata=META,
    )
    assert [f.name for f in preview.schema.fields] == ["petal ratio", "target", "_split"]
    assert len(preview.rows) == 10
    first = preview.rows[0].values
    assert first[0].number_value == pytest.approx(1.4 / 0.2)
    assert first[2].string_value == "all"
    csv = preview.resolved_recipe.sources[0].file.csv
    assert csv.delimiter == "," and csv.header == pb.HEADER_MODE_PRESENT
    jobs = await ingest.stub.ListIngestJobs(
        pb.ListIngestJobsRequest(project=project.name), metadata=META
    )
    assert list(jobs.jobs) == []


async def test_preview_ingest_refuses_a_bad_recipe(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    recipe = file_recipe(
        (ingest.data_dir / "iris.csv").as_uri(),
        steps=[pb.Step(derive=pb.DeriveStep(column="x", expression="__import__('os')"))],
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.PreviewIngest(
            pb.PreviewIngestRequest(project=project.name, recipe=recipe), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.PreviewIngest(
            pb.PreviewIngestRequest(project=project.name, recipe=recipe, limit=5000), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in info.value.details()


async def test_preview_dataset_version(ingest: IngestHandle, project: rpb.Project) -> None:
    job = await run_job(
        ingest, project.name, file_recipe((ingest.data_dir / "wine.csv").as_uri()), "wine-preview"
    )
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    version_id = job.result.dataset_version_id
    preview = await ingest.stub.PreviewDatasetVersion(
        pb.PreviewDatasetVersionRequest(
            project=project.name, dataset_version_id=version_id, columns=["alcohol", "target"]
        ),
        metadata=META,
    )
    assert [f.name for f in preview.schema.fields] == ["alcohol", "target"]
    assert len(preview.rows) == 50
    assert preview.rows[0].values[0].number_value == pytest.approx(14.23)
    for request, words in (
        (pb.PreviewDatasetVersionRequest(columns=["colour"]), "colour"),
        (pb.PreviewDatasetVersionRequest(split="test"), "split"),
        (pb.PreviewDatasetVersionRequest(limit=100_000), "limit"),
    ):
        request.project, request.dataset_version_id = project.name, version_id
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ingest.stub.PreviewDatasetVersion(request, metadata=META)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in info.value.details()
    other = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-o"), metadata=META
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.PreviewDatasetVersion(
            pb.PreviewDatasetVersionRequest(project=other.name, dataset_version_id=version_id),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_preview_dataset_version_follows_the_sharing(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    owner = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-owner"), metadata=META
    )
    outsider = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-outsider"), metadata=META
    )
    url = (ingest.data_dir / "iris.csv").as_uri()
    sharings = {
        "iris-pub": common_pb2.Sharing(visibility=common_pb2.VISIBILITY_PUBLIC),
        "iris-shared": common_pb2.Sharing(
            visibility=common_pb2.VISIBILITY_SHARED, shared_with=[project.name]
        ),
        "iris-own": common_pb2.Sharing(visibility=common_pb2.VISIBILITY_PRIVATE),
    }
    versions: dict[str, str] = {}
    for name, sharing in sharings.items():
        job = await run_job(ingest, owner.name, file_recipe(url), name, sharing=sharing)
        assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
        versions[name] = job.result.dataset_version_id

    async def preview(viewer: str, name: str) -> pb.PreviewDatasetVersionResponse:
        return await ingest.stub.PreviewDatasetVersion(
            pb.PreviewDatasetVersionRequest(
                project=viewer, dataset_version_id=versions[name], limit=3
            ),
            metadata=META,
        )

    assert len((await preview(project.name, "iris-pub")).rows) == 3
    assert len((await preview(project.name, "iris-shared")).rows) == 3
    assert len((await preview(outsider.name, "iris-pub")).rows) == 3
    for viewer, name in (
        (project.name, "iris-own"),
        (outsider.name, "iris-shared"),
        (outsider.name, "iris-own"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await preview(viewer, name)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, (viewer, name)


async def test_a_version_stored_elsewhere_cannot_be_read(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    """A version registered with a URI outside the artifact store: the request is fine, the
    version cannot be read here (FAILED_PRECONDITION), and the store's location is not shown."""
    await ingest.registry.CreateDataset(
        rpb.CreateDatasetRequest(project=project.name, name="external"), metadata=META
    )
    version = await ingest.registry.CreateDatasetVersion(
        rpb.CreateDatasetVersionRequest(
            project=project.name, dataset="external", uri="s3://elsewhere/external/1", row_count=1
        ),
        metadata=META,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.PreviewDatasetVersion(
            pb.PreviewDatasetVersionRequest(project=project.name, dataset_version_id=version.id),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "external@1" in info.value.details()
    assert ingest.settings.resolved_store_url() not in info.value.details()
    recipe = pb.Recipe(
        sources=[pb.Source(alias="e", dataset=pb.DatasetSource(dataset_version_id=version.id))]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.PreviewIngest(
            pb.PreviewIngestRequest(project=project.name, recipe=recipe), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
