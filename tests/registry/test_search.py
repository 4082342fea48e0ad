"""Search over a real gRPC channel, on SQLite and PostgreSQL: filters, ordering, cursor pages.

Runs are searched in the acting project; datasets and models also across projects when they are
public or shared with it (include_shared), never when private.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Any

import grpc
import pytest

from aimass.common.v1 import common_pb2
from aimass.registry.v1 import registry_pb2 as pb
from tests.helpers import refused
from tests.registry.conftest import RegistryHandle

Op = common_pb2.Filter.Operator
S = pb.RunStatus
T = 10  # seconds: every call carries a deadline


def flt(field: str, op: int, *values: str) -> common_pb2.Filter:
    return common_pb2.Filter(field=field, op=op, values=list(values))  # type: ignore[arg-type]


def order(field: str, descending: bool = False) -> list[common_pb2.OrderBy]:
    return [common_pb2.OrderBy(field=field, descending=descending)]


def request(
    project: pb.Project,
    *filters: common_pb2.Filter,
    order_by: Sequence[common_pb2.OrderBy] = (),
    page_size: int = 0,
    token: str = "",
    **fields: Any,
) -> pb.SearchRequest:
    return pb.SearchRequest(
        project=project.name,
        filters=list(filters),
        order_by=list(order_by),
        page=common_pb2.PageRequest(page_size=page_size, page_token=token),
        **fields,
    )


async def new_project(registry: RegistryHandle) -> pb.Project:
    return await registry.stub.CreateProject(
        pb.CreateProjectRequest(name=f"p-{uuid.uuid4().hex[:10]}"),
        metadata=registry.meta(),
        timeout=T,
    )


async def new_run(
    registry: RegistryHandle,
    project: pb.Project,
    name: str,
    metrics: dict[str, float] | None = None,
    **fields: Any,
) -> pb.Run:
    run = await registry.stub.CreateRun(
        pb.CreateRunRequest(project=project.name, name=name, **fields),
        metadata=registry.meta(),
        timeout=T,
    )
    if metrics:
        await registry.stub.LogMetrics(
            pb.LogMetricsRequest(
                project=project.name,
                run_id=run.id,
                points=[pb.MetricPoint(key=k, value=v, step=0) for k, v in metrics.items()],
            ),
            timeout=T,
        )
    return run


async def run_names(
    registry: RegistryHandle, project: pb.Project, *filters: common_pb2.Filter, **fields: Any
) -> set[str]:
    found = await registry.stub.SearchRuns(request(project, *filters, **fields), timeout=T)
    assert not found.page.next_page_token
    return {run.name for run in found.runs}


async def all_pages(call: Any, search: pb.SearchRequest, items: str) -> tuple[list[Any], int]:
    """Follows next_page_token to the end; returns every item and the number of pages."""
    found: list[Any] = []
    pages = 0
    while True:
        response = await call(search, timeout=T)
        pages += 1
        found += getattr(response, items)
        if not response.page.next_page_token:
            return found, pages
        assert len(getattr(response, items)) == search.page.page_size
        search.page.page_token = response.page.next_page_token


# ---------------------------------------------------------------------------------------------
# Runs: filters


async def test_status_filter_accepts_short_and_enum_names(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await new_run(registry, project, "q")
    await new_run(registry, project, "r", initial_status=S.RUN_STATUS_RUNNING)
    done = await new_run(registry, project, "f", initial_status=S.RUN_STATUS_RUNNING)
    await registry.stub.UpdateRunStatus(
        pb.UpdateRunStatusRequest(project=project.name, id=done.id, status=S.RUN_STATUS_FINISHED),
        timeout=T,
    )
    bad = await new_run(registry, project, "x")
    await registry.stub.UpdateRunStatus(
        pb.UpdateRunStatusRequest(project=project.name, id=bad.id, status=S.RUN_STATUS_FAILED),
        timeout=T,
    )
    for value in ("finished", "RUN_STATUS_FINISHED", "FINISHED"):
        assert await run_names(registry, project, flt("status", Op.OPERATOR_EQ, value)) == {"f"}
    assert await run_names(
        registry, project, flt("status", Op.OPERATOR_IN, "finished", "RUN_STATUS_FAILED")
    ) == {"f", "x"}
    assert await run_names(registry, project, flt("status", Op.OPERATOR_NE, "queued")) == {
        "r",
        "f",
        "x",
    }
    assert await run_names(registry, project, flt("status", Op.OPERATOR_EQ, "paused")) == set()


async def test_name_contains_is_case_insensitive_and_literal(
    registry: RegistryHandle, project: pb.Project
) -> None:
    for name in ("Alpha-one", "alpha_two", "beta", "acc_50%", "accX50Y", "ACC_50%-b"):
        await new_run(registry, project, name)
    contains = Op.OPERATOR_CONTAINS
    assert await run_names(registry, project, flt("name", contains, "ALPHA")) == {
        "Alpha-one",
        "alpha_two",
    }
    assert await run_names(registry, project, flt("name", contains, "_50%")) == {
        "acc_50%",
        "ACC_50%-b",
    }
    assert await run_names(registry, project, flt("name", contains, "%")) == {
        "acc_50%",
        "ACC_50%-b",
    }
    assert await run_names(registry, project, flt("name", contains, "_")) == {
        "alpha_two",
        "acc_50%",
        "ACC_50%-b",
    }
    assert await run_names(registry, project, flt("name", contains, "/")) == set()
    assert await run_names(registry, project, flt("name", Op.OPERATOR_EQ, "beta")) == {"beta"}


async def test_metric_ranges_use_the_latest_value(
    registry: RegistryHandle, project: pb.Project
) -> None:
    a = await new_run(registry, project, "a")
    await registry.stub.LogMetrics(
        pb.LogMetricsRequest(
            project=project.name,
            run_id=a.id,
            points=[
                pb.MetricPoint(key="acc", value=0.95, step=0),
                pb.MetricPoint(key="acc", value=0.5, step=1),
            ],
        ),
        timeout=T,
    )
    await new_run(registry, project, "b", {"acc": 0.7})
    await new_run(registry, project, "c", {"acc": 0.9})
    await new_run(registry, project, "d", {"loss": 0.1})
    cases = [
        (Op.OPERATOR_GT, ["0.6"], {"b", "c"}),
        (Op.OPERATOR_GE, ["0.7"], {"b", "c"}),
        (Op.OPERATOR_LE, ["0.7"], {"a", "b"}),
        (Op.OPERATOR_LT, ["0.5"], set()),
        (Op.OPERATOR_EQ, ["0.7"], {"b"}),
        (Op.OPERATOR_NE, ["0.7"], {"a", "c"}),
        (Op.OPERATOR_GT, ["0.92"], set()),  # a's history reached 0.95, its latest is 0.5
        (Op.OPERATOR_IN, ["0.5", "9e-1"], {"a", "c"}),
        (Op.OPERATOR_EXISTS, [], {"a", "b", "c"}),
    ]
    for op, values, expected in cases:
        found = await run_names(registry, project, flt("metrics.acc", op, *values))
        assert found == expected, (Op.Name(op), values)
    both = await run_names(
        registry,
        project,
        flt("metrics.acc", Op.OPERATOR_GT, "0.55"),
        flt("metrics.acc", Op.OPERATOR_LT, "0.8"),
    )
    assert both == {"b"}


async def test_param_filters_on_text_and_numbers(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await new_run(registry, project, "r1", params={"optimizer": "adam", "lr": "0.1"})
    await new_run(registry, project, "r2", params={"optimizer": "sgd", "lr": "0.001"})
    await new_run(registry, project, "r3", params={"optimizer": "adamw", "lr": "1e-2"})
    await new_run(registry, project, "r4", params={"optimizer": "adam", "lr": "auto"})
    await new_run(registry, project, "r5")
    cases = [
        (flt("params.optimizer", Op.OPERATOR_EQ, "adam"), {"r1", "r4"}),
        (flt("params.optimizer", Op.OPERATOR_IN, "sgd", "adamw"), {"r2", "r3"}),
        (flt("params.optimizer", Op.OPERATOR_CONTAINS, "ADA"), {"r1", "r3", "r4"}),
        (flt("params.optimizer", Op.OPERATOR_NE, "adam"), {"r2", "r3"}),
        (flt("params.lr", Op.OPERATOR_EQ, "0.1"), {"r1"}),  # EQ compares the text
        (flt("params.lr", Op.OPERATOR_EQ, "auto"), {"r4"}),
        (flt("params.lr", Op.OPERATOR_GT, "0.005"), {"r1", "r3"}),  # ranges compare numbers
        (flt("params.lr", Op.OPERATOR_LE, "0.01"), {"r2", "r3"}),
        (flt("params.lr", Op.OPERATOR_GE, "0"), {"r1", "r2", "r3"}),  # "auto" is no number
        (flt("params.lr", Op.OPERATOR_EXISTS), {"r1", "r2", "r3", "r4"}),
    ]
    for condition, expected in cases:
        assert await run_names(registry, project, condition) == expected, condition


async def test_tag_filters(registry: RegistryHandle, project: pb.Project) -> None:
    await new_run(registry, project, "t1", tags={"team": "vision", "gpu": "a100"})
    await new_run(registry, project, "t2", tags={"team": "nlp"})
    await new_run(registry, project, "t3", tags={"gpu": ""})
    await new_run(registry, project, "t4")
    cases = [
        (flt("tags.team", Op.OPERATOR_EQ, "vision"), {"t1"}),
        (flt("tags.team", Op.OPERATOR_IN, "vision", "nlp"), {"t1", "t2"}),
        (flt("tags.team", Op.OPERATOR_NE, "vision"), {"t2"}),
        (flt("tags.gpu", Op.OPERATOR_EXISTS), {"t1", "t3"}),
        (flt("tags.team", Op.OPERATOR_CONTAINS, "LP"), {"t2"}),
        (flt("tags.missing", Op.OPERATOR_EXISTS), set()),
    ]
    for condition, expected in cases:
        assert await run_names(registry, project, condition) == expected, condition


async def test_time_ranges_take_rfc3339(registry: RegistryHandle, project: pb.Project) -> None:
    first = await new_run(registry, project, "first")
    second = await new_run(registry, project, "second", initial_status=S.RUN_STATUS_RUNNING)
    await new_run(registry, project, "third")
    stamp = second.created_at.ToJsonString()
    assert stamp.endswith("Z")
    shifted = second.created_at.ToDatetime(tzinfo=timezone(timedelta(hours=2))).isoformat()
    assert shifted.endswith("+02:00")
    for value in (stamp, shifted):
        ge = flt("created_at", Op.OPERATOR_GE, value)
        assert await run_names(registry, project, ge) == {"second", "third"}, value
        lt = flt("created_at", Op.OPERATOR_LT, value)
        assert await run_names(registry, project, lt) == {"first"}, value
        eq = flt("created_at", Op.OPERATOR_EQ, value)
        assert await run_names(registry, project, eq) == {"second"}, value
    window = [
        flt("created_at", Op.OPERATOR_GT, first.created_at.ToJsonString()),
        flt("created_at", Op.OPERATOR_LE, stamp),
    ]
    assert await run_names(registry, project, *window) == {"second"}
    started = flt("started_at", Op.OPERATOR_GE, "1970-01-01T00:00:00Z")
    assert await run_names(registry, project, started) == {"second"}
    assert (
        await run_names(registry, project, flt("ended_at", Op.OPERATOR_LT, "9999-01-01")) == set()
    )


async def test_other_projects_runs_never_show(
    registry: RegistryHandle, project: pb.Project
) -> None:
    other = await new_project(registry)
    await new_run(registry, other, "shared-name", {"acc": 1.0})
    mine = await new_run(registry, project, "shared-name", {"acc": 0.5})
    found = await registry.stub.SearchRuns(
        request(project, flt("name", Op.OPERATOR_EQ, "shared-name")), timeout=T
    )
    assert [run.id for run in found.runs] == [mine.id]


# ---------------------------------------------------------------------------------------------
# Runs: ordering and pages


async def test_order_by_metric_puts_missing_values_last(
    registry: RegistryHandle, project: pb.Project
) -> None:
    runs = {}
    for name, score in [("s3", 0.3), ("s9", 0.9), ("n1", None), ("s5", 0.5), ("n2", None)]:
        runs[name] = await new_run(registry, project, name, {"score": score} if score else None)
    missing = sorted([runs["n1"], runs["n2"]], key=lambda r: r.id)
    desc = await registry.stub.SearchRuns(
        request(project, order_by=order("metrics.score", descending=True)), timeout=T
    )
    assert [r.name for r in desc.runs] == ["s9", "s5", "s3"] + [r.name for r in missing[::-1]]
    asc = await registry.stub.SearchRuns(
        request(project, order_by=order("metrics.score")), timeout=T
    )
    assert [r.name for r in asc.runs] == ["s3", "s5", "s9"] + [r.name for r in missing]


async def test_order_by_numeric_param(registry: RegistryHandle, project: pb.Project) -> None:
    for name, lr in [("a", "0.1"), ("b", "1e-3"), ("c", "auto"), ("d", "0.01")]:
        await new_run(registry, project, name, params={"lr": lr})
    asc = await registry.stub.SearchRuns(request(project, order_by=order("params.lr")), timeout=T)
    assert [r.name for r in asc.runs] == ["b", "d", "a", "c"]
    desc = await registry.stub.SearchRuns(
        request(project, order_by=order("params.lr", descending=True)), timeout=T
    )
    assert [r.name for r in desc.runs] == ["a", "d", "b", "c"]


async def test_pages_over_25_runs_give_each_run_once_in_order(
    registry: RegistryHandle, project: pb.Project
) -> None:
    made = []
    for i in range(25):
        # Scores tie in fives and five runs have none, so ties and missing values cross pages.
        made.append(
            await new_run(
                registry, project, f"run-{i % 10:02d}", {"score": float(i % 4)} if i < 20 else None
            )
        )
    by_time = sorted(made, key=lambda r: (r.created_at.ToNanoseconds(), r.id))
    assert [r.id for r in by_time] == [r.id for r in made]
    score = {made[i].id: float(i % 4) for i in range(20)}
    unscored = made[20:]
    expectations = [
        (order("created_at"), [r.id for r in by_time]),
        ([], [r.id for r in by_time[::-1]]),  # the default: newest first
        (order("created_at", descending=True), [r.id for r in by_time[::-1]]),
        (
            order("metrics.score", descending=True),
            sorted(score, key=lambda i: (score[i], i), reverse=True)
            + sorted((r.id for r in unscored), reverse=True),
        ),
        (
            order("metrics.score"),
            sorted(score, key=lambda i: (score[i], i)) + sorted(r.id for r in unscored),
        ),
        (order("name"), [r.id for r in sorted(made, key=lambda r: (r.name, r.id))]),
        (
            order("name", descending=True),
            [r.id for r in sorted(made, key=lambda r: (r.name, r.id), reverse=True)],
        ),
    ]
    for order_by, expected in expectations:
        found, pages = await all_pages(
            registry.stub.SearchRuns, request(project, order_by=order_by, page_size=7), "runs"
        )
        ids = [run.id for run in found]
        assert len(ids) == len(set(ids)) == 25, order_by
        assert ids == expected, order_by
        assert pages == 4
    # Filters and pages together: the 15 runs with score >= 1, in pages of 4.
    found, pages = await all_pages(
        registry.stub.SearchRuns,
        request(
            project,
            flt("metrics.score", Op.OPERATOR_GE, "1"),
            order_by=order("metrics.score", descending=True),
            page_size=4,
        ),
        "runs",
    )
    assert [r.id for r in found] == [
        i for i in sorted(score, key=lambda i: (score[i], i), reverse=True) if score[i] >= 1
    ]
    assert pages == 4


async def test_page_token_belongs_to_its_search(
    registry: RegistryHandle, project: pb.Project
) -> None:
    for i in range(3):
        await new_run(registry, project, f"r{i}", {"acc": float(i)})
    first = await registry.stub.SearchRuns(request(project, page_size=1), timeout=T)
    token = first.page.next_page_token
    assert token and len(first.runs) == 1
    ia = grpc.StatusCode.INVALID_ARGUMENT
    stub = registry.stub
    different = [
        request(project, flt("name", Op.OPERATOR_CONTAINS, "r"), page_size=1, token=token),
        request(project, order_by=order("name"), page_size=1, token=token),
        request(project, order_by=order("created_at"), page_size=1, token=token),
        request(project, page_size=1, token=token, include_deleted=True),
    ]
    for search in different:
        await refused(stub.SearchRuns(search, timeout=T), ia, "different search", "same filters")
    other = await new_project(registry)
    await refused(
        stub.SearchRuns(request(other, page_size=1, token=token), timeout=T), ia, "different search"
    )
    for garbage in ("!!!", "bm90IGpzb24", "e30"):  # not base64, not JSON, an empty object
        await refused(
            stub.SearchRuns(request(project, token=garbage), timeout=T),
            ia,
            "page_token is malformed",
        )
    # The same search may change its page size.
    rest = await stub.SearchRuns(request(project, page_size=5, token=token), timeout=T)
    assert [r.name for r in [*first.runs, *rest.runs]] == ["r2", "r1", "r0"]


async def test_unknown_fields_are_refused_with_the_known_ones(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await new_run(registry, project, "r", {"acc": 1.0})
    ia = grpc.StatusCode.INVALID_ARGUMENT
    stub = registry.stub
    details = await refused(
        stub.SearchRuns(request(project, flt("colour", Op.OPERATOR_EQ, "red")), timeout=T),
        ia,
        "unknown filter field 'colour'",
    )
    for known in (
        "name",
        "status",
        "created_at",
        "started_at",
        "parent_run_id",
        "metrics.<key>",
        "params.<key>",
        "tags.<key>",
    ):
        assert known in details
    await refused(
        stub.SearchRuns(request(project, order_by=order("colour")), timeout=T),
        ia,
        "cannot order by 'colour'",
        "metrics.<key>",
        "name",
    )
    await refused(
        stub.SearchRuns(request(project, order_by=order("status")), timeout=T),
        ia,
        "cannot order by 'status'",
    )
    await refused(
        stub.SearchRuns(request(project, flt("metrics.", Op.OPERATOR_EXISTS)), timeout=T),
        ia,
        "'metrics.'",
        "not searchable",
    )
    await refused(
        stub.SearchRuns(
            request(project, order_by=[*order("name"), *order("created_at")]), timeout=T
        ),
        ia,
        "one field",
    )


@pytest.mark.parametrize(
    ("condition", "fragments"),
    [
        (flt("metrics.acc", Op.OPERATOR_GT, "high"), ["metrics.acc", "'high' is not a number"]),
        (flt("metrics.acc", Op.OPERATOR_GT, "nan"), ["'nan' is not a number"]),
        (flt("params.lr", Op.OPERATOR_LT, "x"), ["params.lr", "'x' is not a number"]),
        (flt("created_at", Op.OPERATOR_GT, "yesterday"), ["created_at", "RFC 3339"]),
        (flt("created_at", Op.OPERATOR_GT, "2024-13-01T00:00:00Z"), ["RFC 3339"]),
        (flt("name", Op.OPERATOR_UNSPECIFIED, "x"), ["'name'", "needs an operator"]),
        (flt("name", Op.OPERATOR_EQ, "a", "b"), ["name", "exactly one value"]),
        (flt("name", Op.OPERATOR_EQ), ["name", "exactly one value"]),
        (flt("status", Op.OPERATOR_IN), ["status", "IN needs at least one value"]),
        (flt("metrics.acc", Op.OPERATOR_CONTAINS, "1"), ["metrics.acc", "text fields only"]),
        (flt("created_at", Op.OPERATOR_CONTAINS, "2024-01-01"), ["text fields only"]),
        (flt("created_at", Op.OPERATOR_EXISTS), ["created_at", "does not apply"]),
        (flt("name", Op.OPERATOR_EXISTS), ["name", "OPERATOR_EXISTS does not apply"]),
        (flt("name", 99, "x"), ["name", "operator 99 does not apply"]),
    ],
    ids=lambda case: (
        f"{case.field}-{case.op}" if isinstance(case, common_pb2.Filter) else "-".join(case)
    ),
)
async def test_bad_filter_values_are_refused(
    registry: RegistryHandle,
    project: pb.Project,
    condition: common_pb2.Filter,
    fragments: list[str],
) -> None:
    await new_run(registry, project, "r", {"acc": 1.0}, params={"lr": "0.1"})
    await refused(
        registry.stub.SearchRuns(request(project, condition), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT,
        *fragments,
    )


async def test_page_size_is_bounded(registry: RegistryHandle, project: pb.Project) -> None:
    await new_run(registry, project, "r")
    for size in (-1, 1001):
        await refused(
            registry.stub.SearchRuns(request(project, page_size=size), timeout=T),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"page_size {size}",
            "1..1000",
        )
        await refused(
            registry.stub.SearchDatasets(request(project, page_size=size), timeout=T),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"page_size {size}",
        )
    largest = await registry.stub.SearchRuns(request(project, page_size=1000), timeout=T)
    assert [r.name for r in largest.runs] == ["r"]
    too_many = [flt("name", Op.OPERATOR_NE, str(i)) for i in range(51)]
    await refused(
        registry.stub.SearchRuns(request(project, *too_many), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT,
        "51 filters",
        "at most 50",
    )


async def test_search_in_unknown_project_is_not_found(registry: RegistryHandle) -> None:
    await refused(
        registry.stub.SearchRuns(pb.SearchRequest(project="no-such-project"), timeout=T),
        grpc.StatusCode.NOT_FOUND,
        "'no-such-project'",
    )


# ---------------------------------------------------------------------------------------------
# Datasets and models


async def new_dataset(
    registry: RegistryHandle, project: pb.Project, name: str, **fields: Any
) -> pb.Dataset:
    return await registry.stub.CreateDataset(
        pb.CreateDatasetRequest(project=project.name, name=name, **fields),
        metadata=registry.meta(),
        timeout=T,
    )


async def share(
    registry: RegistryHandle,
    project: pb.Project,
    kind: int,
    entity_id: str,
    visibility: int,
    *with_projects: pb.Project,
) -> None:
    await registry.stub.SetSharing(
        pb.SetSharingRequest(
            project=project.name,
            entity=common_pb2.EntityRef(kind=kind, id=entity_id),  # type: ignore[arg-type]
            sharing=common_pb2.Sharing(
                visibility=visibility,  # type: ignore[arg-type]
                shared_with=[p.name for p in with_projects],
            ),
        ),
        metadata=registry.meta(),
        timeout=T,
    )


async def dataset_names(
    registry: RegistryHandle, project: pb.Project, *filters: common_pb2.Filter, **fields: Any
) -> list[str]:
    found = await registry.stub.SearchDatasets(
        request(project, *filters, order_by=order("name"), **fields), timeout=T
    )
    return [d.name for d in found.datasets]


async def test_search_datasets_filters_order_and_pages(
    registry: RegistryHandle, project: pb.Project
) -> None:
    await new_dataset(
        registry,
        project,
        "cats",
        tags={"domain": "vision"},
        owner="ann",
        description="Pictures of cats",
    )
    await new_dataset(registry, project, "dogs", tags={"domain": "vision"}, owner="bob")
    await new_dataset(registry, project, "birds", tags={"domain": "audio", "raw": "yes"})
    await new_dataset(registry, project, "Catalog", description="a product catalog")
    gone = await new_dataset(registry, project, "old-cats")
    await registry.stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(project=project.name, dataset="dogs", uri="file:///d/1"),
        metadata=registry.meta(),
        timeout=T,
    )
    await registry.stub.DeleteDataset(pb.DeleteRequest(project=project.name, id=gone.id), timeout=T)
    assert await dataset_names(registry, project) == ["Catalog", "birds", "cats", "dogs"]
    cases = [
        (flt("name", Op.OPERATOR_CONTAINS, "CAT"), ["Catalog", "cats"]),
        (flt("tags.domain", Op.OPERATOR_EQ, "vision"), ["cats", "dogs"]),
        (flt("tags.raw", Op.OPERATOR_EXISTS), ["birds"]),
        (flt("owner", Op.OPERATOR_IN, "ann", "bob"), ["cats", "dogs"]),
        (flt("description", Op.OPERATOR_CONTAINS, "catalog"), ["Catalog"]),
        (flt("latest_version", Op.OPERATOR_GE, "1"), ["dogs"]),
        (
            flt("visibility", Op.OPERATOR_EQ, "VISIBILITY_PRIVATE"),
            ["Catalog", "birds", "cats", "dogs"],
        ),
        (flt("project", Op.OPERATOR_EQ, project.name), ["Catalog", "birds", "cats", "dogs"]),
    ]
    for condition, expected in cases:
        assert await dataset_names(registry, project, condition) == expected, condition
    with_deleted = await dataset_names(registry, project, include_deleted=True)
    assert with_deleted == ["Catalog", "birds", "cats", "dogs", "old-cats"]
    for descending in (False, True):
        found, pages = await all_pages(
            registry.stub.SearchDatasets,
            request(project, order_by=order("name", descending), page_size=2, include_deleted=True),
            "datasets",
        )
        expected = sorted(with_deleted, reverse=descending)
        assert [d.name for d in found] == expected and pages == 3
    await refused(
        registry.stub.SearchDatasets(
            request(project, flt("metrics.acc", Op.OPERATOR_GT, "1")), timeout=T
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'metrics.acc'",
        "not searchable",
    )
    details = await refused(
        registry.stub.SearchDatasets(request(project, order_by=order("metrics.acc")), timeout=T),
        grpc.StatusCode.INVALID_ARGUMENT,
        "cannot order by 'metrics.acc'",
        "name",
    )
    assert "metrics.<key>" not in details


async def test_include_shared_shows_public_and_shared_never_private(
    registry: RegistryHandle, project: pb.Project
) -> None:
    owner, third = await new_project(registry), await new_project(registry)
    kind = common_pb2.ENTITY_KIND_DATASET
    await new_dataset(registry, project, "mine")
    await new_dataset(registry, owner, "private")
    public = await new_dataset(registry, owner, "public")
    with_us = await new_dataset(registry, owner, "with-us")
    with_third = await new_dataset(registry, owner, "with-third")
    await share(registry, owner, kind, public.id, common_pb2.VISIBILITY_PUBLIC)
    await share(registry, owner, kind, with_us.id, common_pb2.VISIBILITY_SHARED, project)
    await share(registry, owner, kind, with_third.id, common_pb2.VISIBILITY_SHARED, third)
    ours = flt("project", Op.OPERATOR_IN, project.name, owner.name)
    assert await dataset_names(registry, project, ours) == ["mine"]
    assert await dataset_names(registry, project, ours, include_shared=True) == [
        "mine",
        "public",
        "with-us",
    ]
    from_third = flt("project", Op.OPERATOR_EQ, owner.name)
    assert await dataset_names(registry, third, from_third, include_shared=True) == [
        "public",
        "with-third",
    ]
    found = await registry.stub.SearchDatasets(
        request(project, flt("name", Op.OPERATOR_EQ, "private"), include_shared=True), timeout=T
    )
    assert [d.project for d in found.datasets if d.project == owner.name] == []
    shown = await registry.stub.SearchDatasets(
        request(
            project,
            flt("project", Op.OPERATOR_EQ, owner.name),
            flt("visibility", Op.OPERATOR_EQ, "public"),
            include_shared=True,
        ),
        timeout=T,
    )
    assert [(d.name, d.project, d.sharing.visibility) for d in shown.datasets] == [
        ("public", owner.name, common_pb2.VISIBILITY_PUBLIC)
    ]
    # Made private again, it disappears from the others' searches.
    await share(registry, owner, kind, public.id, common_pb2.VISIBILITY_PRIVATE)
    assert await dataset_names(registry, project, ours, include_shared=True) == ["mine", "with-us"]


async def test_search_models_basics(registry: RegistryHandle, project: pb.Project) -> None:
    stub = registry.stub
    for name, tags in [
        ("churn", {"task": "classification"}),
        ("price", {"task": "regression"}),
        ("churn-v2", {"task": "classification", "beta": "1"}),
    ]:
        await stub.CreateModel(
            pb.CreateModelRequest(project=project.name, name=name, tags=tags),
            metadata=registry.meta(),
            timeout=T,
        )
    other = await new_project(registry)
    public = await stub.CreateModel(
        pb.CreateModelRequest(project=other.name, name="churn-pub"),
        metadata=registry.meta(),
        timeout=T,
    )
    await stub.CreateModel(
        pb.CreateModelRequest(project=other.name, name="churn-priv"),
        metadata=registry.meta(),
        timeout=T,
    )
    await share(
        registry, other, common_pb2.ENTITY_KIND_MODEL, public.id, common_pb2.VISIBILITY_PUBLIC
    )

    async def names(*filters: common_pb2.Filter, **fields: Any) -> list[str]:
        found = await stub.SearchModels(
            request(project, *filters, order_by=order("name"), **fields), timeout=T
        )
        return [m.name for m in found.models]

    assert await names() == ["churn", "churn-v2", "price"]
    assert await names(flt("name", Op.OPERATOR_CONTAINS, "CHURN")) == ["churn", "churn-v2"]
    assert await names(flt("tags.task", Op.OPERATOR_EQ, "classification")) == ["churn", "churn-v2"]
    assert await names(flt("tags.beta", Op.OPERATOR_EXISTS)) == ["churn-v2"]
    ours = flt("project", Op.OPERATOR_IN, project.name, other.name)
    assert await names(ours, include_shared=True) == ["churn", "churn-pub", "churn-v2", "price"]
    found, pages = await all_pages(
        stub.SearchModels,
        request(project, order_by=order("name", descending=True), page_size=1),
        "models",
    )
    assert [m.name for m in found] == ["price", "churn-v2", "churn"] and pages == 3
    token = (await stub.SearchModels(request(project, page_size=1), timeout=T)).page
    await refused(
        stub.SearchModels(
            request(project, page_size=1, token=token.next_page_token, include_shared=True),
            timeout=T,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "different search",
    )
