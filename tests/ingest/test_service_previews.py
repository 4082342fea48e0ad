"""Dry runs: PreviewIngest runs the recipe on the first rows and writes nothing;
PreviewDatasetVersion shows the first rows of a stored version."""

from __future__ import annotations

import grpc
import pytest

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
