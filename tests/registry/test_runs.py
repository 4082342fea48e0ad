"""Runs over a real gRPC channel, on SQLite and PostgreSQL: params, metrics, status, artifacts.

Every refusal is checked three ways: the status code, a message that says what to fix, and a read
back showing the refused write changed nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any, TypeAlias

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from tests.helpers import refused
from tests.registry.conftest import RegistryHandle

S = pb.RunStatus
Status: TypeAlias = pb.RunStatus
T = 10  # seconds: every call carries a deadline


async def new_project(registry: RegistryHandle) -> pb.Project:
    return await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=f"p-{uuid.uuid4().hex[:10]}"),
        metadata=registry.meta(),
        timeout=T,
    )


async def new_run(registry: RegistryHandle, project: pb.Project, **fields: Any) -> pb.Run:
    return await registry.stub.CreateRun(
        pb.CreateRunRequest(project=project.name, **fields), metadata=registry.meta(), timeout=T
    )


async def get_run(
    registry: RegistryHandle, project: pb.Project, run_id: str, include_deleted: bool = False
) -> pb.Run:
    return await registry.stub.GetRun(
        pb.GetRunRequest(project=project.name, id=run_id, include_deleted=include_deleted),
        metadata=registry.meta(),
        timeout=T,
    )


async def all_runs(registry: RegistryHandle, project: pb.Project) -> list[pb.Run]:
    found = await registry.stub.SearchRuns(
        pb.SearchRequest(project=project.name, include_deleted=True), timeout=T
    )
    return list(found.runs)


async def move(
    registry: RegistryHandle, project: pb.Project, run_id: str, status: Status, **fields: Any
) -> pb.Run:
    return await registry.stub.UpdateRunStatus(
        pb.UpdateRunStatusRequest(project=project.name, id=run_id, status=status, **fields),
        metadata=registry.meta(),
        timeout=T,
    )


async def log_params(
    registry: RegistryHandle, project: pb.Project, run_id: str, params: dict[str, str]
) -> pb.LogParamsResponse:
    return await registry.stub.LogParams(
        pb.LogParamsRequest(project=project.name, run_id=run_id, params=params), timeout=T
    )


def point(key: str, value: float, step: int, ms: int | None = None) -> pb.MetricPoint:
    message = pb.MetricPoint(key=key, value=value, step=step)
    if ms is not None:
        message.timestamp.CopyFrom(Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000))
    return message


async def log_metrics(
    registry: RegistryHandle, project: pb.Project, run_id: str, points: list[pb.MetricPoint]
) -> pb.LogMetricsResponse:
    return await registry.stub.LogMetrics(
        pb.LogMetricsRequest(project=project.name, run_id=run_id, points=points), timeout=T
    )


async def history(
    registry: RegistryHandle, project: pb.Project, run_id: str, key: str, **fields: Any
) -> pb.GetMetricHistoryResponse:
    return await registry.stub.GetMetricHistory(
        pb.GetMetricHistoryRequest(project=project.name, run_id=run_id, key=key, **fields),
        timeout=T,
    )


async def new_dataset_version(
    registry: RegistryHandle, project: pb.Project, name: str = "iris"
) -> tuple[pb.Dataset, pb.DatasetVersion]:
    dataset = await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name=name),
        metadata=registry.meta(),
        timeout=T,
    )
    version = await registry.stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            project=project.name,
            dataset=name,
            uri=f"file:///data/{name}/1",
            content_hash="sha256:abc",
            row_count=150,
        ),
        metadata=registry.meta(),
        timeout=T,
    )
    return dataset, version


# ---------------------------------------------------------------------------------------------
# CreateRun and GetRun


async def test_create_run_is_queued_by_default(
    registry: RegistryHandle, project: pb.Project
) -> None:
    created = await registry.stub.CreateRun(
        pb.CreateRunRequest(
            project=project.name,
            name="baseline",
            kind="train",
            params={"lr": "0.1", "optimizer": "adam"},
            tags={"team": "ml"},
            environment={"python": "3.11", "git": "abc123"},
        ),
        metadata=registry.meta("alice"),
        timeout=T,
    )
    assert created.status == S.RUN_STATUS_QUEUED
    assert created.name == "baseline" and created.kind == "train"
    assert dict(created.params) == {"lr": "0.1", "optimizer": "adam"}
    assert dict(created.tags) == {"team": "ml"}
    assert dict(created.environment) == {"python": "3.11", "git": "abc123"}
    assert created.created_by == "alice" and created.project_id == project.id
    assert created.created_at.seconds > 0
    assert not created.HasField("started_at") and not created.HasField("ended_at")
    assert list(created.attempts) == [] and dict(created.metrics) == {}
    assert await get_run(registry, project, created.id) == created


async def test_create_running_run_opens_attempt_one(
    registry: RegistryHandle, project: pb.Project
) -> None:
    created = await new_run(registry, project, name="live", initial_status=S.RUN_STATUS_RUNNING)
    assert created.status == S.RUN_STATUS_RUNNING
    assert created.HasField("started_at") and not created.HasField("ended_at")
    assert [(a.attempt, a.status) for a in created.attempts] == [(1, S.RUN_STATUS_RUNNING)]
    assert not created.attempts[0].HasField("ended_at")
    # The next RUNNING (a redelivery) must be attempt 2, not 1 again.
    await refused(
        move(registry, project, created.id, S.RUN_STATUS_RUNNING, attempt=1),
        grpc.StatusCode.FAILED_PRECONDITION,
        "attempt 1",
    )


@pytest.mark.parametrize(
    "status", [S.RUN_STATUS_FINISHED, S.RUN_STATUS_FAILED, S.RUN_STATUS_CANCELLED]
)
async def test_create_run_refuses_a_final_initial_status(
    registry: RegistryHandle, project: pb.Project, status: Status
) -> None:
    await refused(
        new_run(registry, project, name="x", initial_status=status),
        grpc.StatusCode.INVALID_ARGUMENT,
        "initial_status must be QUEUED or RUNNING",
    )
    assert await all_runs(registry, project) == []


async def test_child_run_points_at_its_parent(
    registry: RegistryHandle, project: pb.Project
) -> None:
    parent = await new_run(registry, project, name="tune", kind="tune")
    child = await new_run(registry, project, name="trial-1", kind="trial", parent_run_id=parent.id)
    assert child.parent_run_id == parent.id
    assert (await get_run(registry, project, child.id)).parent_run_id == parent.id
    children = await registry.stub.SearchRuns(
        pb.SearchRequest(
            project=project.name,
            filters=[
                common_pb2.Filter(
                    field="parent_run_id", op=common_pb2.Filter.OPERATOR_EQ, values=[parent.id]
                )
            ],
        ),
        timeout=T,
    )
    assert [r.id for r in children.runs] == [child.id]


async def test_parent_run_must_exist_in_the_same_project(
    registry: RegistryHandle, project: pb.Project
) -> None:
    other = await new_project(registry)
    foreign = await new_run(registry, other, name="theirs")
    await refused(
        new_run(registry, project, name="trial", parent_run_id=foreign.id),
        grpc.StatusCode.NOT_FOUND,
        foreign.id,
        project.name,
    )
    await refused(
        new_run(registry, project, name="trial", parent_run_id="no-such-run"),
        grpc.StatusCode.NOT_FOUND,
        "no-such-run",
    )
    assert await all_runs(registry, project) == []


async def test_run_of_another_project_is_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    other = await new_project(registry)
    theirs = await new_run(registry, other, name="theirs", params={"a": "1"})
    stub, nf = registry.stub, grpc.StatusCode.NOT_FOUND
    await refused(get_run(registry, project, theirs.id), nf, theirs.id, project.name)
    await refused(log_params(registry, project, theirs.id, {"b": "2"}), nf, theirs.id)
    await refused(log_metrics(registry, project, theirs.id, [point("m", 1, 0)]), nf, theirs.id)
    await refused(move(registry, project, theirs.id, S.RUN_STATUS_RUNNING), nf, theirs.id)
    await refused(history(registry, project, theirs.id, "m"), nf, theirs.id)
    await refused(
        stub.DeleteRun(pb.DeleteRequest(project=project.name, id=theirs.id), timeout=T),
        nf,
        theirs.id,
    )
    assert await get_run(registry, other, theirs.id) == theirs


async def test_unknown_run_and_unknown_project_are_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await refused(
        get_run(registry, project, uuid.uuid4().hex), grpc.StatusCode.NOT_FOUND, "does not exist"
    )
    await refused(
        registry.stub.CreateRun(
            pb.CreateRunRequest(project="no-such-project", name="x"), timeout=T
        ),
        grpc.StatusCode.NOT_FOUND,
        "no-such-project",
    )


async def test_run_records_the_dataset_versions_it_read(
    registry: RegistryHandle, project: pb.Project
) -> None:
    _, version = await new_dataset_version(registry, project)
    run = await new_run(registry, project, name="fit", input_dataset_version_ids=[version.id])
    assert list(run.input_dataset_version_ids) == [version.id]
    assert list((await get_run(registry, project, run.id)).input_dataset_version_ids) == [
        version.id
    ]
    downstream = await registry.stub.GetLineage(
        pb.GetLineageRequest(
            project=project.name,
            entity=common_pb2.EntityRef(kind=common_pb2.ENTITY_KIND_DATASET_VERSION, id=version.id),
            direction=pb.LINEAGE_DIRECTION_DOWNSTREAM,
        ),
        timeout=T,
    )
    assert (common_pb2.ENTITY_KIND_RUN, run.id) in {
        (n.entity.kind, n.entity.id) for n in downstream.nodes
    }


async def test_unknown_or_private_input_version_is_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    _, mine = await new_dataset_version(registry, project)
    other = await new_project(registry)
    _, private = await new_dataset_version(registry, other, "secret")
    missing = uuid.uuid4().hex
    await refused(
        new_run(registry, project, name="fit", input_dataset_version_ids=[mine.id, missing]),
        grpc.StatusCode.NOT_FOUND,
        f"input dataset version {missing!r}",
    )
    await refused(
        new_run(registry, project, name="fit", input_dataset_version_ids=[private.id]),
        grpc.StatusCode.NOT_FOUND,
        f"input dataset version {private.id!r}",
        "not shared",
    )
    assert await all_runs(registry, project) == []


async def test_shared_input_version_of_another_project_is_accepted(
    registry: RegistryHandle, project: pb.Project
) -> None:
    other = await new_project(registry)
    dataset, version = await new_dataset_version(registry, other, "public-data")
    await registry.stub.SetSharing(
        pb.SetSharingRequest(
            project=other.name,
            entity=common_pb2.EntityRef(kind=common_pb2.ENTITY_KIND_DATASET, id=dataset.id),
            sharing=common_pb2.Sharing(
                visibility=common_pb2.VISIBILITY_SHARED, shared_with=[project.name]
            ),
        ),
        metadata=registry.meta(),
        timeout=T,
    )
    run = await new_run(registry, project, name="fit", input_dataset_version_ids=[version.id])
    assert list(run.input_dataset_version_ids) == [version.id]


async def test_create_run_is_idempotent_on_its_key(
    registry: RegistryHandle, project: pb.Project
) -> None:
    first = await new_run(registry, project, name="job", idempotency_key="job-42")
    again = await new_run(registry, project, name="job", idempotency_key="job-42")
    assert again == first
    assert [r.id for r in await all_runs(registry, project)] == [first.id]


async def test_concurrent_creates_with_one_key_make_one_run(
    registry: RegistryHandle, project: pb.Project
) -> None:
    made = await asyncio.gather(
        *[new_run(registry, project, name="job", idempotency_key="same") for _ in range(4)]
    )
    assert len({run.id for run in made}) == 1
    assert [r.id for r in await all_runs(registry, project)] == [made[0].id]


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"params": {"a..b": "1"}}, ["'a..b'", "not a valid key"]),
        ({"params": {"": "1"}}, ["param key", "not a valid key"]),
        ({"params": {"lr": "x" * 6001}}, ["'lr'", "6001", "6000"]),
        ({"params": {f"p{i}": "1" for i in range(1001)}}, ["1001 param", "at most 1000"]),
        ({"tags": {"t/../x": "1"}}, ["tag key", "not a valid key"]),
        ({"tags": {"t": "v" * 5001}}, ["tag 't'", "5000"]),
        ({"environment": {"git": "x" * 5001}}, ["environment 'git'", "5000"]),
        ({"kind": "bad kind!"}, ["run kind", "not a valid key"]),
        ({"kind": "k" * 33}, ["run kind", "32"]),
        ({"name": "n" * 257}, ["run name", "256"]),
        ({"idempotency_key": "i" * 129}, ["idempotency_key", "128"]),
        (
            {"input_dataset_version_ids": [f"v{i}" for i in range(101)]},
            ["101 input dataset versions", "at most 100"],
        ),
    ],
    ids=lambda case: "-".join(case) if isinstance(case, dict) else None,
)
async def test_create_run_refuses_bad_input(
    registry: RegistryHandle, project: pb.Project, fields: dict[str, Any], fragments: list[str]
) -> None:
    await refused(
        new_run(registry, project, **fields), grpc.StatusCode.INVALID_ARGUMENT, *fragments
    )
    assert await all_runs(registry, project) == []


# ---------------------------------------------------------------------------------------------
# Params


async def test_params_are_write_once(registry: RegistryHandle, project: pb.Project) -> None:
    run = await new_run(registry, project, name="r", params={"lr": "0.1"})
    await log_params(registry, project, run.id, {"lr": "0.1", "depth": "6"})
    await log_params(registry, project, run.id, {"depth": "6"})
    await refused(
        log_params(registry, project, run.id, {"lr": "0.2"}),
        grpc.StatusCode.FAILED_PRECONDITION,
        "'lr'",
        "'0.1'",
        "'0.2'",
        "write-once",
    )
    assert dict((await get_run(registry, project, run.id)).params) == {"lr": "0.1", "depth": "6"}


async def test_a_conflicting_batch_stores_none_of_its_keys(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    await log_params(registry, project, run.id, {"lr": "0.1"})
    details = await refused(
        log_params(registry, project, run.id, {"seed": "7", "lr": "0.5", "depth": "3"}),
        grpc.StatusCode.FAILED_PRECONDITION,
        "'lr'",
    )
    assert "'seed'" not in details and "'depth'" not in details
    assert dict((await get_run(registry, project, run.id)).params) == {"lr": "0.1"}


async def test_concurrent_conflicting_params_keep_one_value(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    outcomes = await asyncio.gather(
        *[log_params(registry, project, run.id, {"k": str(i)}) for i in range(4)],
        return_exceptions=True,
    )
    stored = (await get_run(registry, project, run.id)).params["k"]
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 3
    for failure in failures:
        assert isinstance(failure, grpc.aio.AioRpcError)
        assert failure.code() == grpc.StatusCode.FAILED_PRECONDITION, failure.details()
        assert f"is already {stored!r}" in (failure.details() or "")


async def test_param_sizes_are_bounded(registry: RegistryHandle, project: pb.Project) -> None:
    run = await new_run(registry, project, name="r")
    longest = "x" * 6000
    await log_params(registry, project, run.id, {"ok": longest})
    ia = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        log_params(registry, project, run.id, {"big": "x" * 6001, "fine": "1"}),
        ia,
        "param 'big'",
        "6001 characters",
        "limit is 6000",
    )
    await refused(
        log_params(registry, project, run.id, {"a..b": "1"}), ia, "'a..b'", "not a valid key"
    )
    await refused(log_params(registry, project, run.id, {"": "1"}), ia, "''", "not a valid key")
    await refused(log_params(registry, project, run.id, {"k" * 251: "1"}), ia, "not a valid key")
    many = {f"p{i}": str(i) for i in range(1001)}
    await refused(log_params(registry, project, run.id, many), ia, "1001 param", "at most 1000")
    assert dict((await get_run(registry, project, run.id)).params) == {"ok": longest}
    # Exactly 1,000 in one call is fine.
    await log_params(registry, project, run.id, {f"p{i}": str(i) for i in range(1000)})
    assert len((await get_run(registry, project, run.id)).params) == 1001


async def test_log_params_on_unknown_run_is_not_found(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await refused(
        log_params(registry, project, "nope", {"a": "1"}), grpc.StatusCode.NOT_FOUND, "'nope'"
    )
    await refused(
        log_params(registry, project, "", {"a": "1"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "run id is required",
    )


# ---------------------------------------------------------------------------------------------
# Metrics


async def test_latest_metric_is_the_highest_step_then_latest_time(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    t0 = 1_700_000_000_000
    first = await log_metrics(
        registry,
        project,
        run.id,
        [
            point("loss", 0.9, 0, t0),
            point("loss", 0.5, 5, t0),
            point("loss", 0.7, 2, t0),
            point("acc", 0.6, 1, t0),
        ],
    )
    assert first.accepted == 4
    assert dict((await get_run(registry, project, run.id)).metrics) == {"loss": 0.5, "acc": 0.6}
    # A lower step logged later does not replace the latest.
    await log_metrics(registry, project, run.id, [point("loss", 0.1, 3, t0 + 10_000)])
    assert (await get_run(registry, project, run.id)).metrics["loss"] == 0.5
    # The same step with an earlier timestamp does not either; a later one does.
    await log_metrics(registry, project, run.id, [point("loss", 0.2, 5, t0 - 1)])
    assert (await get_run(registry, project, run.id)).metrics["loss"] == 0.5
    await log_metrics(registry, project, run.id, [point("loss", 0.3, 5, t0 + 1)])
    assert (await get_run(registry, project, run.id)).metrics["loss"] == 0.3
    # Within one batch too: highest step wins regardless of position.
    await log_metrics(
        registry,
        project,
        run.id,
        [
            point("acc", 0.99, 9, t0),
            point("acc", 0.8, 7, t0 + 5),
        ],
    )
    assert dict((await get_run(registry, project, run.id)).metrics) == {"loss": 0.3, "acc": 0.99}


async def test_metric_history_is_complete_and_ordered_by_step(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    t0 = 1_700_000_000_000
    await log_metrics(
        registry,
        project,
        run.id,
        [
            point("loss", 4.0, 4, t0 + 4),
            point("loss", 1.0, 1, t0 + 1),
            point("other", 9.0, 0, t0),
        ],
    )
    await log_metrics(
        registry,
        project,
        run.id,
        [
            point("loss", 3.0, 3, t0 + 3),
            point("loss", 0.0, 0, t0),
            point("loss", 2.0, 2, t0 + 2),
            point("loss", 2.5, 2, t0 + 20),
        ],
    )
    found = await history(registry, project, run.id, "loss")
    assert found.key == "loss"
    assert list(found.steps) == [0, 1, 2, 2, 3, 4]
    assert list(found.values) == [0.0, 1.0, 2.0, 2.5, 3.0, 4.0]
    assert list(found.timestamps_ms) == [t0, t0 + 1, t0 + 2, t0 + 20, t0 + 3, t0 + 4]
    assert found.page.next_page_token == ""
    later = await history(registry, project, run.id, "loss", start_step=2)
    assert list(later.steps) == [2, 2, 3, 4] and list(later.values) == [2.0, 2.5, 3.0, 4.0]
    assert list((await history(registry, project, run.id, "absent")).steps) == []


async def test_points_without_timestamp_get_the_time_of_receipt(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    before = (
        await registry.stub.GetProject(pb.GetProjectRequest(project=project.name), timeout=T)
    ).created_at.ToMilliseconds()
    await log_metrics(registry, project, run.id, [point("m", 1.0, 0)])
    await log_metrics(registry, project, run.id, [point("m", 2.0, 0)])
    found = await history(registry, project, run.id, "m")
    assert all(stamp >= before - 1000 for stamp in found.timestamps_ms)
    # Same step, later receipt: the second batch is the latest.
    assert (await get_run(registry, project, run.id)).metrics["m"] == 2.0


async def test_history_pages_over_25000_points(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="long")
    t0 = 1_700_000_000_000
    # Three points share each step and timestamp, so pages must split ties without loss.
    points = [point("loss", float(i), i // 3, t0) for i in range(25_000)]
    for start in range(0, 25_000, 10_000):
        batch = await log_metrics(registry, project, run.id, points[start : start + 10_000])
        assert batch.accepted == min(10_000, 25_000 - start)
    values: list[float] = []
    steps: list[int] = []
    token, pages = "", 0
    while True:
        page = await history(registry, project, run.id, "loss", page_token=token)
        pages += 1
        assert len(page.steps) == len(page.values) == len(page.timestamps_ms)
        values += page.values
        steps += page.steps
        token = page.page.next_page_token
        if not token:
            break
        assert len(page.steps) == 10_000
    assert pages == 3
    assert values == [float(i) for i in range(25_000)]
    assert steps == [i // 3 for i in range(25_000)]
    latest = (await get_run(registry, project, run.id)).metrics["loss"]
    assert latest == 24_999.0
    # start_step with paging: steps >= 8000 are points 24000.., 1000 of them, in pages of 300.
    tail: list[float] = []
    token = ""
    while True:
        page = await history(
            registry, project, run.id, "loss", start_step=8000, page_size=300, page_token=token
        )
        tail += page.values
        token = page.page.next_page_token
        if not token:
            break
    assert tail == [float(i) for i in range(24_000, 25_000)]


def _token(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


async def test_history_refuses_bad_page_tokens_and_sizes(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    other = await new_run(registry, project, name="r2")
    await log_metrics(registry, project, run.id, [point("a", float(i), i) for i in range(5)])
    await log_metrics(registry, project, other.id, [point("a", float(i), i) for i in range(5)])
    first = await history(registry, project, run.id, "a", page_size=2)
    token = first.page.next_page_token
    assert list(first.steps) == [0, 1] and token
    ia = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        history(registry, project, run.id, "a", page_token="not a token!"),
        ia,
        "page_token is malformed",
    )
    await refused(
        history(registry, project, run.id, "a", page_token=_token({"x": 1})),
        ia,
        "page_token is malformed",
    )
    await refused(
        history(registry, project, run.id, "a", page_token=_token([run.id, "a", "x", 1, 2])),
        ia,
        "page_token is malformed",
    )
    await refused(
        history(registry, project, run.id, "b", page_token=token), ia, "another run or metric key"
    )
    await refused(
        history(registry, project, other.id, "a", page_token=token), ia, "another run or metric key"
    )
    await refused(
        history(registry, project, run.id, "a", page_size=-1), ia, "page_size -1", "1..200000"
    )
    await refused(
        history(registry, project, run.id, "a", page_size=200_001), ia, "page_size 200001"
    )
    await refused(history(registry, project, run.id, ""), ia, "metric key")
    await refused(history(registry, project, "nope", "a"), grpc.StatusCode.NOT_FOUND, "'nope'")
    rest = await history(registry, project, run.id, "a", page_size=2, page_token=token)
    assert list(rest.steps) == [2, 3]


async def test_log_metrics_refuses_bad_batches(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    ia = grpc.StatusCode.INVALID_ARGUMENT
    await refused(log_metrics(registry, project, run.id, []), ia, "points is empty")
    too_many = [point("m", 1.0, i) for i in range(10_001)]
    await refused(
        log_metrics(registry, project, run.id, too_many), ia, "10001 metric points", "at most 10000"
    )
    await refused(
        log_metrics(registry, project, run.id, [point("m", 1.0, 0), point("m", 2.0, -1)]),
        ia,
        "'m'",
        "negative step -1",
    )
    await refused(
        log_metrics(registry, project, run.id, [point("ok", 1.0, 0), point("a..b", 1.0, 0)]),
        ia,
        "'a..b'",
        "not a valid key",
    )
    await refused(log_metrics(registry, project, run.id, [point("", 1.0, 0)]), ia, "metric key")
    await refused(
        log_metrics(registry, project, "nope", [point("m", 1.0, 0)]),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )
    assert dict((await get_run(registry, project, run.id)).metrics) == {}
    assert list((await history(registry, project, run.id, "m")).steps) == []
    assert list((await history(registry, project, run.id, "ok")).steps) == []
    # Exactly 10,000 in one call is fine.
    accepted = await log_metrics(registry, project, run.id, too_many[:10_000])
    assert accepted.accepted == 10_000


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
async def test_non_finite_metric_values_are_refused(
    registry: RegistryHandle, project: pb.Project, value: float
) -> None:
    run = await new_run(registry, project, name="r")
    await refused(
        log_metrics(registry, project, run.id, [point("loss", 1.0, 0), point("loss", value, 1)]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'loss'",
        "finite",
    )
    assert list((await history(registry, project, run.id, "loss")).steps) == []


# ---------------------------------------------------------------------------------------------
# The status machine and attempts

LEGAL_PATHS = [
    [S.RUN_STATUS_RUNNING, S.RUN_STATUS_FINISHED],
    [S.RUN_STATUS_RUNNING, S.RUN_STATUS_FAILED],
    [S.RUN_STATUS_RUNNING, S.RUN_STATUS_CANCELLED],
    [S.RUN_STATUS_CANCELLED],
    [S.RUN_STATUS_FAILED],
    [S.RUN_STATUS_RUNNING, S.RUN_STATUS_RUNNING, S.RUN_STATUS_FINISHED],
]


@pytest.mark.parametrize("path", LEGAL_PATHS, ids=lambda p: "-".join(S.Name(s)[11:] for s in p))
async def test_legal_status_moves(
    registry: RegistryHandle, project: pb.Project, path: list[Status]
) -> None:
    run = await new_run(registry, project, name="r")
    for status in path:
        run = await move(registry, project, run.id, status, reason=f"to {S.Name(status)}")
        assert run.status == status and run.status_reason == f"to {S.Name(status)}"
    assert (await get_run(registry, project, run.id)) == run
    assert run.HasField("ended_at")
    assert run.HasField("started_at") == (S.RUN_STATUS_RUNNING in path)
    if run.HasField("started_at"):
        assert run.ended_at.ToNanoseconds() >= run.started_at.ToNanoseconds()
    assert len(run.attempts) == path.count(S.RUN_STATUS_RUNNING)


ILLEGAL = [
    ([], S.RUN_STATUS_FINISHED, "queued"),
    ([], S.RUN_STATUS_QUEUED, "queued"),
    ([S.RUN_STATUS_RUNNING], S.RUN_STATUS_QUEUED, "running"),
    ([S.RUN_STATUS_RUNNING, S.RUN_STATUS_FINISHED], S.RUN_STATUS_RUNNING, "finished"),
    ([S.RUN_STATUS_RUNNING, S.RUN_STATUS_FINISHED], S.RUN_STATUS_FAILED, "finished"),
    ([S.RUN_STATUS_RUNNING, S.RUN_STATUS_FAILED], S.RUN_STATUS_RUNNING, "failed"),
    ([S.RUN_STATUS_CANCELLED], S.RUN_STATUS_RUNNING, "cancelled"),
    ([S.RUN_STATUS_CANCELLED], S.RUN_STATUS_FINISHED, "cancelled"),
    ([S.RUN_STATUS_CANCELLED], S.RUN_STATUS_FAILED, "cancelled"),
    ([S.RUN_STATUS_CANCELLED], S.RUN_STATUS_CANCELLED, "cancelled"),
    ([S.RUN_STATUS_CANCELLED], S.RUN_STATUS_QUEUED, "cancelled"),
]


@pytest.mark.parametrize(
    ("path", "target", "current"),
    ILLEGAL,
    ids=[f"{c}-to-{S.Name(t)[11:].lower()}" for _, t, c in ILLEGAL],
)
async def test_illegal_status_moves_are_refused(
    registry: RegistryHandle, project: pb.Project, path: list[Status], target: Status, current: str
) -> None:
    run = await new_run(registry, project, name="r")
    for status in path:
        run = await move(registry, project, run.id, status)
    target_name = S.Name(target)[11:].lower()
    await refused(
        move(registry, project, run.id, target, reason="nope"),
        grpc.StatusCode.FAILED_PRECONDITION,
        f"is {current}",
        f"cannot move to {target_name}",
    )
    assert await get_run(registry, project, run.id) == run


@pytest.mark.parametrize(("first", "second"), [(1, 1), (3, 2), (2, 2)])
async def test_running_again_needs_a_higher_attempt(
    registry: RegistryHandle, project: pb.Project, first: int, second: int
) -> None:
    run = await new_run(registry, project, name="r")
    run = await move(registry, project, run.id, S.RUN_STATUS_RUNNING, attempt=first, worker="a")
    await refused(
        move(registry, project, run.id, S.RUN_STATUS_RUNNING, attempt=second, worker="b"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "is running",
        f"attempt {first}",
        "higher",
    )
    assert await get_run(registry, project, run.id) == run


async def test_attempts_are_recorded_and_closed(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    one = await move(registry, project, run.id, S.RUN_STATUS_RUNNING, attempt=1, worker="A")
    assert [(a.attempt, a.worker, a.status) for a in one.attempts] == [
        (1, "A", S.RUN_STATUS_RUNNING)
    ]
    two = await move(registry, project, run.id, S.RUN_STATUS_RUNNING, attempt=2, worker="B")
    assert two.started_at == one.started_at  # the run started with its first attempt
    done = await move(registry, project, run.id, S.RUN_STATUS_FINISHED, reason="ok")
    assert done == await get_run(registry, project, run.id)
    first, second = done.attempts
    assert (first.attempt, first.worker, second.attempt, second.worker) == (1, "A", 2, "B")
    assert first.status == S.RUN_STATUS_FAILED and "superseded by attempt 2" in first.reason
    assert second.status == S.RUN_STATUS_FINISHED and second.reason == "ok"
    assert first.HasField("ended_at") and second.HasField("ended_at")
    assert first.ended_at.ToNanoseconds() <= second.started_at.ToNanoseconds()
    assert second.ended_at.ToNanoseconds() >= second.started_at.ToNanoseconds()
    assert done.HasField("started_at") and done.HasField("ended_at")
    assert done.ended_at.ToNanoseconds() >= done.started_at.ToNanoseconds()
    assert first.started_at == done.started_at


async def test_running_without_attempt_number_takes_the_next(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r", initial_status=S.RUN_STATUS_RUNNING)
    again = await move(registry, project, run.id, S.RUN_STATUS_RUNNING, worker="w2")
    assert [(a.attempt, a.worker) for a in again.attempts] == [(1, ""), (2, "w2")]


async def test_update_status_refuses_bad_requests(
    registry: RegistryHandle, project: pb.Project
) -> None:
    run = await new_run(registry, project, name="r")
    ia = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        move(registry, project, run.id, S.RUN_STATUS_UNSPECIFIED), ia, "status is required"
    )
    await refused(
        move(registry, project, run.id, S.RUN_STATUS_RUNNING, worker="w" * 257), ia, "worker", "256"
    )
    await refused(
        move(registry, project, run.id, S.RUN_STATUS_FAILED, reason="r" * 10_001),
        ia,
        "reason",
        "10000",
    )
    await refused(
        move(registry, project, "nope", S.RUN_STATUS_RUNNING), grpc.StatusCode.NOT_FOUND, "'nope'"
    )
    assert await get_run(registry, project, run.id) == run


# ---------------------------------------------------------------------------------------------
# Artifacts


async def test_add_run_artifacts(registry: RegistryHandle, project: pb.Project) -> None:
    run = await new_run(registry, project, name="r")
    updated = await registry.stub.AddRunArtifacts(
        pb.AddRunArtifactsRequest(
            project=project.name,
            run_id=run.id,
            artifacts=[
                pb.RunArtifact(
                    path="model/model.json",
                    uri="file:///s/m.json",
                    size_bytes=10,
                    content_hash="sha256:1",
                ),
                pb.RunArtifact(path="eval/report.html", uri="file:///s/r.html", size_bytes=20),
            ],
        ),
        timeout=T,
    )
    assert [(a.path, a.uri, a.size_bytes) for a in updated.artifacts] == [
        ("eval/report.html", "file:///s/r.html", 20),
        ("model/model.json", "file:///s/m.json", 10),
    ]
    assert updated.artifacts[1].content_hash == "sha256:1"
    # Re-adding a path replaces it.
    again = await registry.stub.AddRunArtifacts(
        pb.AddRunArtifactsRequest(
            project=project.name,
            run_id=run.id,
            artifacts=[
                pb.RunArtifact(path="model/model.json", uri="file:///s/m2.json", size_bytes=11),
            ],
        ),
        timeout=T,
    )
    assert [(a.path, a.uri) for a in again.artifacts] == [
        ("eval/report.html", "file:///s/r.html"),
        ("model/model.json", "file:///s/m2.json"),
    ]
    assert await get_run(registry, project, run.id) == again
    # The same path twice in one call: the last one wins.
    twice = await registry.stub.AddRunArtifacts(
        pb.AddRunArtifactsRequest(
            project=project.name,
            run_id=run.id,
            artifacts=[
                pb.RunArtifact(path="x.bin", uri="file:///1"),
                pb.RunArtifact(path="x.bin", uri="file:///2"),
            ],
        ),
        timeout=T,
    )
    assert [(a.path, a.uri) for a in twice.artifacts if a.path == "x.bin"] == [
        ("x.bin", "file:///2")
    ]


@pytest.mark.parametrize(
    ("artifact", "fragments"),
    [
        (pb.RunArtifact(path="../escape", uri="file:///x"), ["'../escape'", "relative"]),
        (pb.RunArtifact(path="a/../../b", uri="file:///x"), ["'a/../../b'", "'..'"]),
        (pb.RunArtifact(path="/etc/passwd", uri="file:///x"), ["'/etc/passwd'", "relative"]),
        (pb.RunArtifact(path="", uri="file:///x"), ["artifact path is required"]),
        (pb.RunArtifact(path="ok.txt"), ["artifact uri is required"]),
        (pb.RunArtifact(path="p" * 1025, uri="file:///x"), ["artifact path", "1024"]),
        (pb.RunArtifact(path="ok.txt", uri="file:///x", size_bytes=-1), ["size_bytes"]),
        (
            pb.RunArtifact(path="ok.txt", uri="file:///x", content_hash="h" * 81),
            ["content_hash", "80"],
        ),
    ],
    ids=lambda case: case[0] if isinstance(case, list) else None,
)
async def test_bad_artifacts_are_refused(
    registry: RegistryHandle, project: pb.Project, artifact: pb.RunArtifact, fragments: list[str]
) -> None:
    run = await new_run(registry, project, name="r")
    good = pb.RunArtifact(path="good.txt", uri="file:///good")
    await refused(
        registry.stub.AddRunArtifacts(
            pb.AddRunArtifactsRequest(
                project=project.name, run_id=run.id, artifacts=[good, artifact]
            ),
            timeout=T,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        *fragments,
    )
    assert list((await get_run(registry, project, run.id)).artifacts) == []


async def test_artifacts_need_a_known_run(registry: RegistryHandle, project: pb.Project) -> None:
    await refused(
        registry.stub.AddRunArtifacts(
            pb.AddRunArtifactsRequest(
                project=project.name,
                run_id="nope",
                artifacts=[pb.RunArtifact(path="a", uri="file:///a")],
            ),
            timeout=T,
        ),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )


# ---------------------------------------------------------------------------------------------
# Soft delete and restore


async def test_delete_and_restore_run(registry: RegistryHandle, project: pb.Project) -> None:
    kept = await new_run(registry, project, name="kept")
    run = await new_run(registry, project, name="gone", params={"a": "1"})
    stub = registry.stub
    deleted = await stub.DeleteRun(pb.DeleteRequest(project=project.name, id=run.id), timeout=T)
    assert deleted.deleted_at.seconds > 0
    await refused(
        get_run(registry, project, run.id), grpc.StatusCode.NOT_FOUND, "is deleted", "restore"
    )
    shown = await get_run(registry, project, run.id, include_deleted=True)
    assert shown.deleted_at == deleted.deleted_at and dict(shown.params) == {"a": "1"}
    live = await stub.SearchRuns(pb.SearchRequest(project=project.name), timeout=T)
    assert [r.id for r in live.runs] == [kept.id]
    every = await stub.SearchRuns(
        pb.SearchRequest(project=project.name, include_deleted=True), timeout=T
    )
    assert {r.id for r in every.runs} == {kept.id, run.id}
    # A deleted run takes no writes and cannot be deleted twice.
    await refused(
        log_metrics(registry, project, run.id, [point("m", 1.0, 0)]),
        grpc.StatusCode.NOT_FOUND,
        "is deleted",
    )
    await refused(
        log_params(registry, project, run.id, {"b": "2"}), grpc.StatusCode.NOT_FOUND, "is deleted"
    )
    await refused(
        stub.DeleteRun(pb.DeleteRequest(project=project.name, id=run.id), timeout=T),
        grpc.StatusCode.NOT_FOUND,
        "is deleted",
    )
    restored = await stub.RestoreRun(pb.RestoreRequest(project=project.name, id=run.id), timeout=T)
    assert not restored.HasField("deleted_at") and dict(restored.params) == {"a": "1"}
    assert await get_run(registry, project, run.id) == restored
    await refused(
        stub.RestoreRun(pb.RestoreRequest(project=project.name, id=run.id), timeout=T),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not deleted",
    )
    live = await stub.SearchRuns(pb.SearchRequest(project=project.name), timeout=T)
    assert {r.id for r in live.runs} == {kept.id, run.id}
