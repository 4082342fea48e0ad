"""Bad input: the right status code, a message that says what to fix, nothing partial visible."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from sklearn.datasets import load_breast_cancer

from aimass.common.v1 import common_pb2
from aimass.ingest.v1 import ingest_pb2 as pb
from aimass.registry.v1 import registry_pb2 as rpb
from tests.ingest.conftest import (
    META,
    IngestHandle,
    StartIngest,
    file_recipe,
    run_job,
    stored_keys,
    submit,
    upload,
    versions,
    wait_for,
)


async def _refused(
    handle: IngestHandle, project: str, recipe: pb.Recipe, dataset: str
) -> grpc.aio.AioRpcError:
    before = await stored_keys(handle, f"datasets/{dataset}")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await submit(handle, project, recipe, dataset)
    assert await versions(handle, project, dataset) == []
    assert await stored_keys(handle, f"datasets/{dataset}") == before
    return info.value


async def _nothing_left(handle: IngestHandle, project: str, dataset: str, job_id: str) -> None:
    assert await versions(handle, project, dataset) == []
    keys = await stored_keys(handle, f"datasets/{dataset}")
    assert [key for key in keys if job_id in key] == []
    assert await handle.store.list_orphans(timedelta(0)) == []


async def test_unknown_column_is_refused_at_submission(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    recipe = file_recipe(
        (ingest.data_dir / "iris.csv").as_uri(),
        steps=[pb.Step(select=pb.SelectStep(columns=["sepal length (cm)", "petal colour"]))],
    )
    error = await _refused(ingest, project.name, recipe, "unknown-column")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "petal colour" in error.details()


async def test_a_value_that_does_not_cast_fails_the_job(
    ingest: IngestHandle, project: rpb.Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rows = [f"{i},{i * 2}" for i in range(1000)]
    rows[900] = "900,not-a-number"
    data = ("id,amount\n" + "\n".join(rows) + "\n").encode()
    staged = await upload(ingest, project.name, "amounts.csv", data)
    recipe = file_recipe(
        staged.upload_id,
        steps=[
            pb.Step(
                cast=pb.CastStep(
                    casts=[pb.CastStep.Cast(column="amount", type=common_pb2.DATA_TYPE_INT64)]
                )
            )
        ],
    )
    job = await submit(ingest, project.name, recipe, "amounts")
    ended = await wait_for(ingest, project.name, job.id)
    assert ended.state == pb.INGEST_JOB_STATE_FAILED
    assert "amount" in ended.error and "not-a-number" in ended.error
    assert ended.attempt == 1
    run = await ingest.registry.GetRun(
        rpb.GetRunRequest(project=project.name, id=ended.run_id), metadata=META
    )
    assert run.status == rpb.RUN_STATUS_FAILED
    await _nothing_left(ingest, project.name, "amounts", job.id)


@pytest.mark.parametrize("content", [b"", b"a,b,c\n"], ids=["empty", "header-only"])
async def test_empty_input(ingest: IngestHandle, project: rpb.Project, content: bytes) -> None:
    staged = await upload(ingest, project.name, "empty.csv", content)
    error = await _refused(ingest, project.name, file_recipe(staged.upload_id), "empty")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no data" in error.details() or "empty" in error.details()


async def test_union_of_mismatched_schemas(ingest: IngestHandle, project: rpb.Project) -> None:
    recipe = pb.Recipe(
        sources=[
            pb.Source(
                alias="iris", file=pb.FileSource(url=(ingest.data_dir / "iris.csv").as_uri())
            ),
            pb.Source(
                alias="wine", file=pb.FileSource(url=(ingest.data_dir / "wine.csv").as_uri())
            ),
        ],
        steps=[pb.Step(union=pb.UnionStep(sources=["wine"]))],
    )
    error = await _refused(ingest, project.name, recipe, "mixed")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "alcohol" in error.details() or "sepal" in error.details()


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "https://example.com/data.csv", "DATA_DIR/../../etc/passwd", "STORE"],
)
async def test_urls_outside_the_allowed_prefixes(
    ingest: IngestHandle, project: rpb.Project, url: str
) -> None:
    url = url.replace("DATA_DIR", ingest.data_dir.as_uri())
    url = url.replace("STORE", ingest.settings.resolved_store_url() + "/datasets/x/part.parquet")
    error = await _refused(ingest, project.name, file_recipe(url), "outside")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        "allowed" in error.details()
        or "dataset source" in error.details()
        or "URL" in error.details()
    )


async def test_unreachable_database(ingest: IngestHandle, project: rpb.Project) -> None:
    recipe = pb.Recipe(
        sources=[
            pb.Source(
                alias="db",
                sql=pb.SqlSource(url="postgresql://reader@127.0.0.1:1/sales", table="orders"),
            )
        ]
    )
    error = await _refused(ingest, project.name, recipe, "unreachable")
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1" in error.details()


async def test_wrong_credentials(ingest: IngestHandle, project: rpb.Project) -> None:
    # The test server trusts local connections, so a role that does not exist stands in for a
    # refused login; the password must never be echoed.
    recipe = pb.Recipe(
        sources=[
            pb.Source(
                alias="db",
                sql=pb.SqlSource(
                    url="postgresql://no_such_role_here@127.0.0.1:5432/postgres",
                    table="orders",
                    credentials=pb.Credentials(secret="s3cr3t-value"),
                ),
            )
        ]
    )
    error = await _refused(ingest, project.name, recipe, "refused")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "s3cr3t-value" not in error.details()


async def test_malformed_rows_fail_or_are_skipped_and_counted(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    lines = ["a,b"] + [f"{i},{i}" for i in range(50)]
    lines[10] = "9,9,9,9"
    data = ("\n".join(lines) + "\n").encode()
    staged = await upload(ingest, project.name, "ragged.csv", data)
    error = await _refused(ingest, project.name, file_recipe(staged.upload_id), "ragged")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "11" in error.details()
    skip = file_recipe(staged.upload_id, malformed_rows=pb.MALFORMED_ROW_POLICY_SKIP)
    job = await run_job(ingest, project.name, skip, "ragged")
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.result.skipped_rows == 1 and job.result.row_count == 49
    assert job.result.skipped_examples[0].line == 11
    (version,) = await versions(ingest, project.name, "ragged")
    assert version.skipped_rows == 1


async def test_recipe_structure_is_checked_before_anything_runs(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    url = (ingest.data_dir / "iris.csv").as_uri()
    cases = {
        "duplicate alias": pb.Recipe(
            sources=[pb.Source(alias="a", file=pb.FileSource(url=url))] * 2,
            steps=[pb.Step(union=pb.UnionStep(sources=["a"]))],
        ),
        "unknown source": pb.Recipe(
            sources=[pb.Source(alias="a", file=pb.FileSource(url=url))],
            steps=[pb.Step(join=pb.JoinStep(right="b", keys=[pb.JoinStep.Key(left="x")]))],
        ),
        "fractions": file_recipe(
            url,
            split=pb.SplitSpec(
                method=pb.SPLIT_METHOD_RANDOM,
                parts=[
                    pb.SplitSpec.Part(name="train", fraction=0.7),
                    pb.SplitSpec.Part(name="test", fraction=0.2),
                ],
            ),
        ),
        "empty step": file_recipe(url, steps=[pb.Step(description="does nothing")]),
        "no upload": file_recipe("0" * 32),
    }
    for case, recipe in cases.items():
        error = await _refused(ingest, project.name, recipe, "structure")
        expected = (
            grpc.StatusCode.NOT_FOUND if case == "no upload" else grpc.StatusCode.INVALID_ARGUMENT
        )
        assert error.code() == expected, (case, error.details())


@pytest.mark.parametrize("encoding", ["", "utf-8"], ids=["detected", "declared"])
async def test_wrong_encoding(ingest: IngestHandle, project: rpb.Project, encoding: str) -> None:
    rows = "name,city\n" + "".join(f"row{i},Zürich\n" for i in range(20))
    staged = await upload(ingest, project.name, "latin.csv", rows.encode("latin-1"))
    recipe = file_recipe(staged.upload_id)
    recipe.sources[0].file.csv.encoding = encoding
    error = await _refused(ingest, project.name, recipe, "latin")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "encoding" in error.details()


async def test_a_file_over_the_configured_limit(
    extra_ingest: StartIngest, project: rpb.Project
) -> None:
    small = await extra_ingest(ingest_max_file_bytes=1000)
    url = (small.data_dir / "iris.csv").as_uri()
    error = await _refused(small, project.name, file_recipe(url), "too-big")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in error.details() and "1,000" in error.details()


async def test_a_secret_given_as_a_reference_is_not_echoed(
    ingest: IngestHandle, project: rpb.Project
) -> None:
    """A password pasted into secret_ref by mistake must not come back in the error."""
    sql = pb.SqlSource(
        url="postgresql://reader@127.0.0.1:5432/postgres",
        table="orders",
        credentials=pb.Credentials(secret_ref="Tr0ub4dor&3-horse"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.CreateSource(
            pb.CreateSourceRequest(project=project.name, name="pasted", sql=sql), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Tr0ub4dor" not in info.value.details()
    assert "env:NAME" in info.value.details()
    error = await _refused(
        ingest, project.name, pb.Recipe(sources=[pb.Source(alias="db", sql=sql)]), "pasted"
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Tr0ub4dor" not in error.details()


async def test_secret_directories_are_never_readable_as_files(
    extra_ingest: StartIngest, project: rpb.Project, tmp_path: Path
) -> None:
    """Even when an allowed prefix covers a secret directory (a broad operator setting), the
    secrets in it cannot be read as a file source (and so shown by a preview)."""
    home = tmp_path / "broad"
    secrets = home / "imports" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "db.csv").write_text("password\nhunter2\n")
    broad = await extra_ingest(
        home=home,
        ingest_allowed_url_prefixes=[(home / "imports").as_uri()],
        ingest_secret_dirs=[str(secrets)],
    )
    recipe = file_recipe((secrets / "db.csv").as_uri())
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await broad.stub.PreviewIngest(
            pb.PreviewIngestRequest(project=project.name, recipe=recipe), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "hunter2" not in info.value.details()


async def test_get_job_by_an_empty_version_id(ingest: IngestHandle, project: rpb.Project) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ingest.stub.GetIngestJob(
            pb.GetIngestJobRequest(project=project.name, dataset_version_id=""), metadata=META
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dataset_version_id" in info.value.details()


async def test_a_sqlite_file_outside_the_allowed_prefixes_is_refused(
    ingest: IngestHandle, project: rpb.Project, tmp_path: Path
) -> None:
    """A SQLite source is a file: the service's own database is never readable through it,
    while a SQLite file in the import folder is."""
    own = ingest.settings.db_url().split("///", 1)[-1] if ingest.backend == "sqlite" else ""
    outside = str(tmp_path / "elsewhere.db")
    for path in filter(None, [own, outside]):
        recipe = pb.Recipe(
            sources=[pb.Source(alias="db", sql=pb.SqlSource(url=f"sqlite:///{path}", table="t"))]
        )
        error = await _refused(ingest, project.name, recipe, "sqlite-outside")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the SQLite file" in error.details() and "allowed prefix" in error.details()
    inside = ingest.data_dir / f"cancer-{ingest.backend}.db"
    load_breast_cancer(as_frame=True).frame.to_sql(
        "cancer", f"sqlite:///{inside}", index=False, if_exists="replace"
    )
    recipe = pb.Recipe(
        sources=[pb.Source(alias="db", sql=pb.SqlSource(url=f"sqlite:///{inside}", table="cancer"))]
    )
    job = await run_job(ingest, project.name, recipe, "sqlite-inside")
    assert job.state == pb.INGEST_JOB_STATE_SUCCEEDED, job.error
    assert job.result.row_count == 569
