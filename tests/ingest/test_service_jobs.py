"""Jobs end to end: upload a CSV, ingest it with a recipe and a split, read the version back."""

from __future__ import annotations

import asyncio
import json
import uuid

import grpc
import pytest

from aimass.common.v1 import common_pb2
from aimass.events.v1 import events_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from services.common.bus import EVENTS, Delivery, connect
from tests.conftest import nats_url
from tests.ingest.conftest import (
    META,
    IngestHandle,
    file_recipe,
    run_job,
    submit,
    upload,
    versions,
    wait_for,
)

SPLIT = pb.SplitSpec(
    method=pb.SPLIT_METHOD_RANDOM,
    seed=7,
    parts=[
        pb.SplitSpec.Part(name="train", fraction=0.8),
        pb.SplitSpec.Part(name="test", fraction=0.2),
    ],
)


def _rename_target() -> pb.Step:
    return pb.Step(
        description="a plain name for the label",
        rename=pb.RenameStep(columns={"target": "species"}),
    )


async def test_upload_and_ingest_csv_end_to_end(ingest: IngestHandle, project: rpb.Project) -> None:
    data = (ingest.data_dir / "iris.csv").read_bytes()
    staged = await upload(ingest, project.name, "iris.csv", data, size_bytes=len(data))
    recipe = file_recipe(staged.upload_id, alias="iris", steps=[_rename_target()], split=SPLIT)
    job = await run_job(ingest, project.name, recipe, "iris", description="Fisher's iris")
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.attempt == 1
    result = job.result
    assert result.row_count == 150
    assert sum(result.split_rows.values()) == 150
    assert set(result.split_rows) == {"train", "test"}
    assert 100 <= result.split_rows["train"] <= 140

    version = await ingest.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=project.name, id=result.dataset_version_id),
        metadata=META,
    )
    names = [field.name for field in version.schema.fields]
    assert "species" in names and "sepal length (cm)" in names and "_split" in names
    assert "_aimass_row" not in names
    assert version.row_count == 150
    assert dict(version.split_rows) == dict(result.split_rows)
    assert version.producer_run_id == job.run_id
    assert version.content_hash.startswith("sha256:")
    assert version.uri.startswith(ingest.settings.resolved_store_url())
    stats = {s.name: s for s in version.statistics}
    sepal = stats["sepal length (cm)"]
    assert sepal.count == 150 and sepal.null_count == 0
    assert sepal.min == pytest.approx(4.3) and sepal.max == pytest.approx(7.9)
    assert [s.kind for s in version.sources] == ["upload"]
    recipe_json = json.loads(version.recipe_json)
    assert recipe_json["sources"][0]["file"]["format"] in ("FILE_FORMAT_CSV", 1)
    assert recipe_json["sources"][0]["file"]["csv"]["delimiter"] == ","

    lineage = await ingest.registry.GetLineage(
        rpb.GetLineageRequest(
            project=project.name,
            entity=common_pb2.EntityRef(kind=common_pb2.ENTITY_KIND_DATASET_VERSION, id=version.id),
            direction=rpb.LINEAGE_DIRECTION_UPSTREAM,
        ),
        metadata=META,
    )
    relations = {edge.relation for edge in lineage.edges}
    assert {"ingested_from", "produced"} <= relations

    run = await ingest.registry.GetRun(
        rpb.GetRunRequest(project=project.name, id=job.run_id), metadata=META
    )
    assert run.kind == "ingest" and run.status == rpb.RUN_STATUS_FINISHED
    assert [a.attempt for a in run.attempts] == [1]

    by_version = await ingest.stub.GetIngestJob(
        pb.GetIngestJobRequest(project=project.name, dataset_version_id=version.id), metadata=META
    )
    assert by_version.id == job.id

    preview = await ingest.stub.PreviewDatasetVersion(
        pb.PreviewDatasetVersionRequest(
            project=project.name, dataset_version_id=version.id, split="test", limit=5
        ),
        metadata=META,
    )
    assert len(preview.rows) == 5
    split_index = [f.name for f in preview.schema.fields].index("_split")
    assert {row.values[split_index].string_value for row in preview.rows} == {"test"}


async def test_watch_streams_until_the_job_ends(ingest: IngestHandle, project: rpb.Project) -> None:
    recipe = file_recipe((ingest.data_dir / "wine.csv").as_uri(), alias="wine")
    job = await submit(ingest, project.name, recipe, "wine")
    seen = [
        item
        async for item in ingest.stub.WatchIngestJob(
            pb.WatchIngestJobRequest(project=project.name, job_id=job.id),
            metadata=META,
            timeout=60,
        )
    ]
    assert seen[-1].state == pb.INGEST_JOB_STATE_SUCCEEDED, seen[-1].error
    assert seen[-1].result.row_count == 178
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))


async def test_progress_events_are_published(ingest: IngestHandle, project: rpb.Project) -> None:
    bus = await connect(nats_url(), name="progress-test", namespace=ingest.settings.bus_namespace)
    seen: list[events_pb2.Event] = []

    async def handle(event: events_pb2.Event, delivery: Delivery) -> None:
        seen.append(event)

    try:
        await bus.consume(
            stream=EVENTS,
            durable=f"test-progress-{uuid.uuid4().hex[:8]}",
            filter_subject="aimass.ingest.job.progressed",
            message_type=events_pb2.Event,
            handler=handle,
        )
        url = (ingest.data_dir / "diabetes.tsv").as_uri()
        job = await run_job(ingest, project.name, file_recipe(url), "diabetes-progress")
        assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
        assert job.progress.phase == pb.INGEST_PHASE_REGISTERING
        assert job.progress.rows_read == 442 and job.progress.rows_written == 442
        assert job.progress.bytes_total > 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any(e.ingest_progressed.job_id == job.id for e in seen):
            assert loop.time() < deadline, "no progress event"
            await asyncio.sleep(0.05)
    finally:
        await bus.close(1)
    mine = [e for e in seen if e.ingest_progressed.job_id == job.id]
    assert all(e.producer == "ingest" and e.project_id == project.id for e in mine)
    assert mine[-1].ingest_progressed.phase == "registering"
    assert mine[-1].ingest_progressed.rows == 442


async def test_idempotency_key_returns_the_same_job(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    recipe = file_recipe((ingest.data_dir / "iris.csv").as_uri())
    request = pb.CreateIngestJobRequest(
        project=project.name,
        recipe=recipe,
        target=pb.IngestTarget(dataset="iris-once", create_dataset=True),
        idempotency_key="submit-1",
    )
    first = await ingest.stub.CreateIngestJob(request, metadata=META)
    second = await ingest.stub.CreateIngestJob(request, metadata=META)
    assert first.id == second.id
    await wait_for(ingest, project.name, first.id)
    assert len(await versions(ingest, project.name, "iris-once")) == 1


async def test_list_jobs_filters_and_pages(ingest: IngestHandle, project: rpb.Project) -> None:
    url = (ingest.data_dir / "iris.csv").as_uri()
    ids = []
    for dataset in ("a", "b", "a"):
        job = await submit(ingest, project.name, file_recipe(url), dataset)
        ids.append(job.id)
    for job_id in ids:
        await wait_for(ingest, project.name, job_id)
    only_a = await ingest.stub.ListIngestJobs(
        pb.ListIngestJobsRequest(
            project=project.name,
            filters=[
                common_pb2.Filter(field="dataset", op=common_pb2.Filter.OPERATOR_EQ, values=["a"])
            ],
        ),
        metadata=META,
    )
    assert {job.id for job in only_a.jobs} == {ids[0], ids[2]}
    seen: list[str] = []
    token = ""
    while True:
        page = await ingest.stub.ListIngestJobs(
            pb.ListIngestJobsRequest(
                project=project.name,
                filters=[
                    common_pb2.Filter(
                        field="state", op=common_pb2.Filter.OPERATOR_EQ, values=["SUCCEEDED"]
                    )
                ],
                page=common_pb2.PageRequest(page_size=2, page_token=token),
            ),
            metadata=META,
        )
        seen += [job.id for job in page.jobs]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.ListIngestJobs(
            pb.ListIngestJobsRequest(
                project=project.name,
                filters=[common_pb2.Filter(field="colour", op=common_pb2.Filter.OPERATOR_EQ)],
            ),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_jobs_of_another_project_are_not_found(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    url = (ingest.data_dir / "iris.csv").as_uri()
    job = await submit(ingest, project.name, file_recipe(url), "mine")
    other = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-other"), metadata=META
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.GetIngestJob(
            pb.GetIngestJobRequest(project=other.name, job_id=job.id), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    await wait_for(ingest, project.name, job.id)


async def test_a_bad_sharing_is_refused_at_submission(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    """Not after the whole ingest ran and created the dataset (which a corrected retry would then
    find existing, and never share)."""
    url = (ingest.data_dir / "iris.csv").as_uri()
    cases = {
        "no-one": (
            common_pb2.Sharing(visibility=common_pb2.VISIBILITY_SHARED),
            grpc.StatusCode.INVALID_ARGUMENT,
            "shared_with",
        ),
        "nobody-known": (
            common_pb2.Sharing(
                visibility=common_pb2.VISIBILITY_SHARED, shared_with=[f"{project.name}-nope"]
            ),
            grpc.StatusCode.NOT_FOUND,
            f"{project.name}-nope",
        ),
        "no-visibility": (
            common_pb2.Sharing(shared_with=[project.name]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "visibility",
        ),
    }
    for dataset, (sharing, code, words) in cases.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await submit(ingest, project.name, file_recipe(url), dataset, sharing=sharing)
        assert info.value.code() == code, (dataset, info.value.details())
        assert words in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await ingest.registry.GetDataset(
                rpb.GetDatasetRequest(project=project.name, dataset=dataset), metadata=META
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    jobs = await ingest.stub.ListIngestJobs(
        pb.ListIngestJobsRequest(project=project.name), metadata=META
    )
    assert list(jobs.jobs) == []
