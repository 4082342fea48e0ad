"""Every source kind through the real service: files at URLs (CSV, TSV, JSON Lines, Parquet),
uploads (test_service_jobs), a PostgreSQL table with real rows, an existing dataset version, and
saved source definitions whose secrets never come back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2
from sklearn.datasets import load_iris
from sqlalchemy.engine import make_url

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from tests.conftest import create_pg_database, drop_pg_database
from tests.ingest.conftest import META, IngestHandle, file_recipe, run_job

SPLIT = pb.SplitSpec(
    method=pb.SPLIT_METHOD_STRATIFIED,
    column="target",
    seed=3,
    parts=[
        pb.SplitSpec.Part(name="train", fraction=0.5),
        pb.SplitSpec.Part(name="test", fraction=0.5),
    ],
)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("iris.csv", 150),
        ("diabetes.tsv", 442),
        ("breast_cancer.jsonl", 569),
        ("breast_cancer.parquet", 569),
    ],
)
async def test_file_urls_of_every_format(
    ingest: IngestHandle, project: rpb.Project, name: str, rows: int
) -> None:
    url = (ingest.data_dir / name).as_uri()
    job = await run_job(ingest, project.name, file_recipe(url), name.replace(".", "-"))
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.result.row_count == rows
    assert dict(job.result.split_rows) == {"all": rows}
    version = await ingest.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=project.name, id=job.result.dataset_version_id),
        metadata=META,
    )
    assert [(s.kind, s.uri) for s in version.sources] == [("file", url)]


@pytest.fixture
async def iris_table() -> AsyncIterator[str]:
    """A PostgreSQL database holding iris in public.iris; yields a SQLAlchemy URL without driver."""
    url = await create_pg_database("aimass_src")
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    frame = load_iris(as_frame=True).frame
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TABLE iris (id serial primary key, sepal_length double precision, "
            "sepal_width double precision, petal_length double precision, "
            "petal_width double precision, species integer)"
        )
        await connection.copy_records_to_table(
            "iris",
            records=[tuple(float(v) for v in row[:4]) + (int(row[4]),) for row in frame.values],
            columns=["sepal_length", "sepal_width", "petal_length", "petal_width", "species"],
        )
    finally:
        await connection.close()
    yield dsn
    await drop_pg_database(url)


async def test_postgresql_table_through_a_saved_source(
    ingest: IngestHandle, project: rpb.Project, iris_table: str
) -> None:
    source = await ingest.stub.CreateSource(
        pb.CreateSourceRequest(
            project=project.name,
            name="warehouse",
            sql=pb.SqlSource(url=iris_table, credentials=pb.Credentials(secret="not-shown-ever")),
            check_connection=True,
        ),
        metadata=META,
    )
    assert source.sql.credentials.secret == ""
    assert source.sql.credentials.has_secret
    assert source.sql.credentials.secret_ref.startswith("stored:")
    fetched = await ingest.stub.GetSource(
        pb.GetSourceRequest(project=project.name, source="warehouse"), metadata=META
    )
    assert fetched.id == source.id and "not-shown-ever" not in str(fetched)
    listed = await ingest.stub.ListSources(
        pb.ListSourcesRequest(project=project.name), metadata=META
    )
    assert [s.name for s in listed.sources] == ["warehouse"]

    recipe = pb.Recipe(
        sources=[pb.Source(alias="iris", source_id=source.id, table="public.iris")],
        steps=[pb.Step(select=pb.SelectStep(drop=["id"]))],
        split=pb.SplitSpec(
            method=pb.SPLIT_METHOD_STRATIFIED,
            column="species",
            seed=1,
            parts=[
                pb.SplitSpec.Part(name="train", fraction=0.6),
                pb.SplitSpec.Part(name="test", fraction=0.4),
            ],
        ),
    )
    job = await run_job(ingest, project.name, recipe, "iris-from-pg")
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.result.row_count == 150
    assert dict(job.result.split_rows) == {"train": 90, "test": 60}
    names = [f.name for f in job.result.schema.fields]
    assert "id" not in names and "species" in names
    assert "not-shown-ever" not in str(job)
    version = await ingest.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=project.name, id=job.result.dataset_version_id),
        metadata=META,
    )
    assert version.sources[0].kind == "sql"
    assert "not-shown-ever" not in str(version)
    assert version.sources[0].uri.endswith("#public.iris")

    await ingest.stub.DeleteSource(
        pb.DeleteSourceRequest(project=project.name, source="warehouse"), metadata=META
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.GetSource(
            pb.GetSourceRequest(project=project.name, source=source.id), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_postgresql_query_with_an_inline_secret(
    ingest: IngestHandle, project: rpb.Project, iris_table: str
) -> None:
    recipe = pb.Recipe(
        sources=[
            pb.Source(
                alias="big",
                sql=pb.SqlSource(
                    url=iris_table,
                    query="SELECT sepal_length, species FROM iris WHERE petal_length >= 3",
                    credentials=pb.Credentials(secret="inline-secret-value"),
                    chunk_rows=17,
                ),
            )
        ]
    )
    job = await run_job(ingest, project.name, recipe, "iris-big")
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.result.row_count == 100
    assert job.recipe.sources[0].sql.credentials.secret == ""
    assert job.recipe.sources[0].sql.credentials.secret_ref.startswith("stored:")
    assert "inline-secret-value" not in str(job)


async def test_existing_dataset_version_as_a_source(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    url = (ingest.data_dir / "iris.csv").as_uri()
    first = await run_job(ingest, project.name, file_recipe(url, split=SPLIT), "iris-base")
    assert first.state == pb.INGEST_JOB_STATE_SUCCEEDED, first.error
    recipe = pb.Recipe(
        sources=[
            pb.Source(alias="base", dataset=pb.DatasetSource(dataset="iris-base", splits=["train"]))
        ],
        steps=[
            pb.Step(
                filter=pb.FilterStep(
                    keep=pb.Predicate(
                        comparison=pb.Comparison(
                            column="target",
                            op=pb.Comparison.OPERATOR_EQ,
                            value=struct_pb2.Value(number_value=0),
                        )
                    )
                )
            )
        ],
    )
    derived = await run_job(ingest, project.name, recipe, "setosa")
    assert derived.state == pb.INGEST_JOB_STATE_SUCCEEDED, derived.error
    assert derived.result.row_count == 25
    resolved = derived.result.resolved_recipe.sources[0].dataset
    assert resolved.dataset_version_id == first.result.dataset_version_id
    version = await ingest.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=project.name, id=derived.result.dataset_version_id),
        metadata=META,
    )
    assert list(version.parent_version_ids) == [first.result.dataset_version_id]
    lineage = await ingest.registry.GetLineage(
        rpb.GetLineageRequest(
            project=project.name,
            entity=common_pb2.EntityRef(kind=common_pb2.ENTITY_KIND_DATASET_VERSION, id=version.id),
            direction=rpb.LINEAGE_DIRECTION_UPSTREAM,
        ),
        metadata=META,
    )
    assert "derived_from" in {edge.relation for edge in lineage.edges}


async def test_check_connection_reports_what_is_wrong(
    ingest: IngestHandle, project: rpb.Project, iris_table: str
) -> None:
    unreachable = pb.SqlSource(url="postgresql://reader@127.0.0.1:1/nowhere")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.CreateSource(
            pb.CreateSourceRequest(
                project=project.name, name="down", sql=unreachable, check_connection=True
            ),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1" in info.value.details()
    refused = pb.SqlSource(
        url=str(make_url(iris_table).set(username="nobody_here")),
        credentials=pb.Credentials(secret="wrong-password"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.CreateSource(
            pb.CreateSourceRequest(
                project=project.name, name="refused", sql=refused, check_connection=True
            ),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "wrong-password" not in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.CreateSource(
            pb.CreateSourceRequest(
                project=project.name,
                name="leaky",
                sql=pb.SqlSource(url="postgresql://reader:hunter2@db/sales"),
            ),
            metadata=META,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "hunter2" not in info.value.details()


async def test_dataset_sources_follow_the_registry_visibility(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    owner = await ingest.registry.CreateProject(
        rpb.CreateProjectRequest(name=f"{project.name}-owner"), metadata=META
    )
    url = (ingest.data_dir / "iris.csv").as_uri()
    public = common_pb2.Sharing(visibility=common_pb2.VISIBILITY_PUBLIC)
    shared = await run_job(ingest, owner.name, file_recipe(url), "iris-public", sharing=public)
    private = await run_job(ingest, owner.name, file_recipe(url), "iris-private")
    assert shared.state == private.state == pb.INGEST_JOB_STATE_SUCCEEDED
    recipe = pb.Recipe(
        sources=[
            pb.Source(alias="p", dataset=pb.DatasetSource(dataset=f"{owner.name}/iris-public"))
        ]
    )
    copied = await run_job(ingest, project.name, recipe, "iris-copy")
    assert copied.state == pb.INGEST_JOB_STATE_SUCCEEDED, copied.error
    version = await ingest.registry.GetDatasetVersion(
        rpb.GetDatasetVersionRequest(project=project.name, id=copied.result.dataset_version_id),
        metadata=META,
    )
    assert list(version.parent_version_ids) == [shared.result.dataset_version_id]
    hidden = pb.Recipe(
        sources=[
            pb.Source(
                alias="p",
                dataset=pb.DatasetSource(dataset_version_id=private.result.dataset_version_id),
            )
        ]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await run_job(ingest, project.name, hidden, "stolen")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
