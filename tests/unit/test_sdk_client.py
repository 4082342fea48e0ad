"""The SDK's request building, error mapping, pagination, Server-Sent Events and streamed upload,
and the CLI's tables, --json and exit codes, over httpx.MockTransport."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import aimass
from aimass import ApiError, Client, cli, cli_api_kit
from aimass.client_base import parse_sse
from aimass.client_data import file_recipe
from aimass.client_ml import param_value
from aimass.client_progress import ProgressBar, render_bar

Route = Callable[[httpx.Request], httpx.Response]


def client_for(route: Route, token: str | None = "secret") -> Client:
    return Client(url="http://gw.test", token=token, transport=httpx.MockTransport(route))


def recorder(answer: Any, status: int = 200) -> tuple[list[httpx.Request], Route]:
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(status, json=answer)

    return seen, route


# -- requests ---------------------------------------------------------------------------------


def test_exports_from_the_package() -> None:
    assert aimass.Client is Client and issubclass(aimass.ApiError, Exception)
    assert aimass.file_recipe is file_recipe and aimass.ProgressBar is ProgressBar
    with pytest.raises(AttributeError):
        aimass.Nothing  # noqa: B018


def test_request_carries_token_path_and_proto_json_body() -> None:
    seen, route = recorder({"id": "d1", "name": "orders"})
    with client_for(route) as client:
        answer = client.create_dataset("my shop/eu", "orders", tags={"team": "a"})
    assert answer == {"id": "d1", "name": "orders"}
    request = seen[0]
    assert request.method == "POST"
    assert request.url.raw_path == b"/api/v1/projects/my%20shop%2Feu/datasets"
    assert request.headers["authorization"] == "Bearer secret"
    assert json.loads(request.content) == {
        "name": "orders",
        "description": "",
        "tags": {"team": "a"},
    }


def test_token_from_env_then_saved_admin_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, route = recorder({})
    monkeypatch.setenv("AIMASS_HOME", str(tmp_path))
    monkeypatch.delenv("AIMASS_TOKEN", raising=False)
    client_for(route, token=None).whoami()
    assert "authorization" not in seen[-1].headers
    (tmp_path / "admin-token").write_text("amk_saved\n")
    client_for(route, token=None).whoami()
    assert seen[-1].headers["authorization"] == "Bearer amk_saved"
    monkeypatch.setenv("AIMASS_TOKEN", "amk_env")
    client_for(route, token=None).whoami()
    assert seen[-1].headers["authorization"] == "Bearer amk_env"
    client_for(route, token="amk_given").whoami()
    assert seen[-1].headers["authorization"] == "Bearer amk_given"


def test_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMASS_URL", "http://gateway.example:9000/")
    with Client(token="x") as client:
        assert client.url == "http://gateway.example:9000"


def test_train_sends_typed_params_and_the_job_in_its_oneof() -> None:
    seen, route = recorder({"run_id": "r1"})
    spec = {"algorithm": "xgboost.gbdt", "params": {"max_depth": 3, "eta": 0.1, "tree": "hist"}}
    client_for(route).train("p", spec, run_name="first", tags={"k": "v"})
    body = json.loads(seen[0].content)
    assert seen[0].url.path == "/api/v1/projects/p/training-jobs"
    assert body["run_name"] == "first" and body["tags"] == {"k": "v"}
    assert body["train"]["params"] == {
        "max_depth": {"int_value": "3"},
        "eta": {"float_value": 0.1},
        "tree": {"string_value": "hist"},
    }


def test_param_values() -> None:
    assert param_value(True) == {"bool_value": True}
    assert param_value(None) == {"null_value": "NULL_VALUE"}
    assert param_value([128, 64]) == {
        "list_value": {"values": [{"int_value": "128"}, {"int_value": "64"}]}
    }
    assert param_value({"float_value": 1.0}) == {"float_value": 1.0}
    with pytest.raises(TypeError):
        param_value(object())


def test_update_deployment_names_what_changes() -> None:
    seen, route = recorder({})
    client = client_for(route)
    client.update_deployment("p", "churn", alias="production")
    client.update_deployment("p", "churn", config={"max_batch_size": 8})
    target, config = (json.loads(r.content) for r in seen)
    assert target == {"update_mask": ["target"], "version": 0, "alias": "production"}
    assert config == {"update_mask": ["config"], "config": {"max_batch_size": 8}}
    assert seen[0].method == "PATCH"


def test_compare_runs_repeats_the_query_parameter() -> None:
    seen, route = recorder({"runs": []})
    client_for(route).compare_runs("p", ["a", "b"])
    assert seen[0].url.params.get_list("run_id") == ["a", "b"]


def test_predict_tf_paths() -> None:
    seen, route = recorder({"predictions": [1]})
    client = client_for(route)
    client.predict_tf("churn", [[1.0]])
    client.predict_tf("churn", [[1.0]], version=3)
    client.predict_tf("churn", [[1.0]], label="prod")
    paths = [r.url.path for r in seen]
    assert paths == [
        "/v1/models/churn:predict",
        "/v1/models/churn/versions/3:predict",
        "/v1/models/churn/labels/prod:predict",
    ]
    assert json.loads(seen[0].content) == {"instances": [[1.0]]}


def test_predict_sends_version_and_outputs_only_when_given() -> None:
    seen, route = recorder({"predictions": ["no"]})
    client = client_for(route)
    client.predict("p", "churn", [{"x": 1}])
    client.predict("p", "churn", [{"x": 1}], version="production", outputs=["predictions"])
    plain, pinned = (json.loads(r.content) for r in seen)
    assert seen[0].url.path == "/api/v1/projects/p/deployments/churn/predict"
    assert plain == {"rows": [{"x": 1}]}
    assert pinned == {"rows": [{"x": 1}], "version": "production", "outputs": ["predictions"]}


def test_list_filters_are_the_routes_query_parameters() -> None:
    seen, route = recorder({})
    client = client_for(route)
    client.catalog("p", "iris", owner_project="lab")
    client.ingest_jobs("p", state="running,queued", dataset="orders")
    client.algorithms("regression")
    client.runs("p", status="finished", name_contains="cv")
    queries = [(r.url.path, dict(r.url.params)) for r in seen]
    assert queries == [
        ("/api/v1/projects/p/catalog", {"name_contains": "iris", "owner_project": "lab"}),
        ("/api/v1/projects/p/ingest-jobs", {"state": "running,queued", "dataset": "orders"}),
        ("/api/v1/algorithms", {"task": "regression"}),
        ("/api/v1/projects/p/runs", {"status": "finished", "name_contains": "cv"}),
    ]


def test_quota_and_usage_routes() -> None:
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        request.read()
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"items": [{"model": ""}]})

    client = client_for(route)
    client.set_quota("t1", rate_per_second=2.5, burst=5)
    client.set_quota("t1", "churn/eu", period="month", period_limit=1000)
    assert client.quotas("t1") == [{"model": ""}]
    client.delete_quota("t1", "churn/eu")
    client.usage("t1", date(2026, 1, 1), date(2026, 1, 31))
    client.usage()
    calls = [(r.method, r.url.raw_path.decode()) for r in seen]
    assert calls == [
        ("PUT", "/api/v1/tokens/t1/quota"),
        ("PUT", "/api/v1/tokens/t1/quotas/churn%2Feu"),
        ("GET", "/api/v1/tokens/t1/quotas"),
        ("DELETE", "/api/v1/tokens/t1/quotas/churn%2Feu"),
        ("GET", "/api/v1/tokens/t1/usage?from=2026-01-01&to=2026-01-31"),
        ("GET", "/api/v1/usage"),
    ]
    assert json.loads(seen[0].content) == {"rate_per_second": 2.5, "burst": 5}
    assert json.loads(seen[1].content) == {"period": "month", "period_limit": 1000}


def test_a_naive_expiry_is_sent_as_local_time_with_its_offset() -> None:
    seen, route = recorder({})
    naive = datetime(2030, 5, 6, 7, 8, 9)
    client_for(route).create_token("ci", ["read"], "p", expires_at=naive)
    sent = datetime.fromisoformat(json.loads(seen[0].content)["expires_at"])
    assert sent.tzinfo is not None and sent == naive.astimezone()


# -- errors -----------------------------------------------------------------------------------


def test_api_error_from_the_error_body() -> None:
    body = {"error": {"code": "NOT_FOUND", "message": "no run r9", "request_id": "req-1"}}
    _, route = recorder(body, status=404)
    with pytest.raises(ApiError) as raised:
        client_for(route).run("p", "r9")
    error = raised.value
    assert (error.status, error.code, error.message, error.request_id) == (
        404,
        "NOT_FOUND",
        "no run r9",
        "req-1",
    )
    assert str(error) == "NOT_FOUND: no run r9 (request id req-1)"


def test_a_429_carries_retry_after() -> None:
    body = {"error": {"code": "RESOURCE_EXHAUSTED", "message": "quota", "request_id": "q"}}

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=body, headers={"Retry-After": "3"})

    with pytest.raises(ApiError) as raised:
        client_for(route).whoami()
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (
        429,
        "RESOURCE_EXHAUSTED",
        3.0,
    )


def test_api_error_from_spec_routes_and_plain_text() -> None:
    _, route = recorder({"error": "model 'x' is not served"}, status=404)
    with pytest.raises(ApiError) as raised:
        client_for(route).predict_tf("x", [[1]])
    assert (raised.value.code, raised.value.message) == ("HTTP_404", "model 'x' is not served")

    def bad_gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="upstream down", headers={"x-request-id": "r2"})

    with pytest.raises(ApiError) as raised:
        client_for(bad_gateway).whoami()
    assert (raised.value.status, raised.value.message, raised.value.request_id) == (
        502,
        "upstream down",
        "r2",
    )


def test_unreachable_gateway_is_an_api_error_with_status_0() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ApiError) as raised:
        client_for(refuse).whoami()
    assert raised.value.status == 0 and raised.value.code == "UNAVAILABLE"
    assert "http://gw.test" in raised.value.message


# -- pagination -------------------------------------------------------------------------------


def paged(field: str, pages: list[list[int]], top_level: bool = False) -> tuple[list[str], Route]:
    tokens: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token", "")
        tokens.append(token)
        index = int(token or 0)
        following = str(index + 1) if index + 1 < len(pages) else ""
        items = [{"n": n} for n in pages[index]]
        if top_level:
            return httpx.Response(200, json={field: items, "next_page_token": following})
        return httpx.Response(200, json={field: items, "page": {"next_page_token": following}})

    return tokens, route


def test_lists_follow_next_page_token_to_the_end() -> None:
    tokens, route = paged("projects", [[1, 2], [3], [4, 5]])
    projects = client_for(route).projects()
    assert [p["n"] for p in projects] == [1, 2, 3, 4, 5]
    assert tokens == ["", "1", "2"]


def test_limit_stops_paging_early() -> None:
    tokens, route = paged("runs", [[1, 2], [3, 4], [5]])
    assert [r["n"] for r in client_for(route).runs("p", limit=3)] == [1, 2, 3]
    assert tokens == ["", "1"]


def test_gateway_lists_with_a_top_level_token() -> None:
    _, route = paged("items", [[1], [2]], top_level=True)
    assert [t["n"] for t in client_for(route).tokens()] == [1, 2]


def test_metric_history_merges_columnar_pages() -> None:
    pages = [
        {"steps": ["0", "1"], "values": [0.5, 0.4], "page": {"next_page_token": "t"}},
        {"steps": ["2"], "values": [0.3], "page": {"next_page_token": ""}},
    ]

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[1 if request.url.params.get("page_token") else 0])

    history = client_for(route).metric_history("p", "r1", "loss")
    assert history["steps"] == ["0", "1", "2"] and history["values"] == [0.5, 0.4, 0.3]


# -- Server-Sent Events -----------------------------------------------------------------------


def test_parse_sse_events_comments_and_multiline_data() -> None:
    lines = [
        ": keep-alive",
        "event: progress",
        'data: {"a":',
        "data: 1}",
        "id: 7",
        "",
        "data: plain text",
        "",
        "event: end",
        "data: {}",
    ]
    events = list(parse_sse(lines))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("progress", {"a": 1}, "7"),
        ("message", "plain text", "7"),
        ("end", {}, "7"),
    ]


def sse_route(body: str, seen: list[httpx.Request]) -> Route:
    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        chunks = [body[i : i + 7].encode() for i in range(0, len(body), 7)]
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, stream=httpx.ByteStream(b"".join(chunks)), headers=headers)

    return route


def test_watch_run_yields_progress_until_the_stream_ends() -> None:
    body = (
        'event: progress\ndata: {"state": "RUN_STATE_RUNNING", "step": "1"}\n\n'
        ": ping\n\n"
        'event: progress\ndata: {"state": "RUN_STATE_FINISHED"}\n\n'
    )
    seen: list[httpx.Request] = []
    updates = list(client_for(sse_route(body, seen)).watch_run("p", "r1", include_trials=True))
    assert [u["state"] for u in updates] == ["RUN_STATE_RUNNING", "RUN_STATE_FINISHED"]
    assert seen[0].url.path == "/api/v1/projects/p/runs/r1/events"
    assert seen[0].url.params["include_trials"] == "true"
    assert seen[0].headers["accept"] == "text/event-stream"


def test_watch_ingest_yields_only_job_events() -> None:
    body = (
        'event: job\ndata: {"id": "j1", "state": "INGEST_JOB_STATE_RUNNING"}\n\n'
        ": keep-alive\n\n"
        'event: notice\ndata: {"id": "other"}\n\n'
        'data: {"id": "unnamed"}\n\n'
        'event: job\ndata: {"id": "j1", "state": "INGEST_JOB_STATE_SUCCEEDED"}\n\n'
    )
    updates = list(client_for(sse_route(body, [])).watch_ingest("p", "j1"))
    assert [u["state"] for u in updates] == [
        "INGEST_JOB_STATE_RUNNING",
        "INGEST_JOB_STATE_SUCCEEDED",
    ]


def test_an_error_event_raises() -> None:
    body = 'event: error\ndata: {"error": {"code": "UNAVAILABLE", "message": "trainer gone"}}\n\n'
    with pytest.raises(ApiError) as raised:
        list(client_for(sse_route(body, [])).watch_ingest("p", "j1"))
    assert raised.value.code == "UNAVAILABLE" and raised.value.message == "trainer gone"


def test_an_error_status_on_a_stream_raises() -> None:
    _, route = recorder({"error": {"code": "NOT_FOUND", "message": "no job"}}, status=404)
    with pytest.raises(ApiError) as raised:
        list(client_for(route).watch_ingest("p", "j1"))
    assert raised.value.status == 404


# -- upload -----------------------------------------------------------------------------------


def test_upload_streams_chunks_with_length_checksum_and_progress(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.56 MB: three 1 MiB chunks
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    received: list[bytes] = []
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        received.append(request.read())
        return httpx.Response(200, json={"upload_id": "u1"})

    calls: list[tuple[int, int]] = []
    answer = client_for(route).upload("p", path, progress=lambda d, t: calls.append((d, t)))
    assert answer == {"upload_id": "u1"}
    assert received == [data]
    request = seen[0]
    assert request.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in request.headers
    assert request.url.params["file_name"] == "orders.csv"
    assert request.url.params["sha256"] == hashlib.sha256(data).hexdigest()
    mib = 1024 * 1024  # read and sent a chunk at a time
    assert calls == [(done, len(data)) for done in (0, mib, 2 * mib, len(data))]


def test_progress_bar_draws_and_ends_the_line() -> None:
    assert render_bar(0, 0) == "0 B sent"
    assert render_bar(512, 1024, width=10).startswith("[#####.....]  50%")
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            return None

    bar = ProgressBar("f.csv", stream=Sink(), interval=3600)  # type: ignore[arg-type]
    bar(0, 100)
    bar(50, 100)  # within the interval: not drawn
    bar(100, 100)
    drawn = "".join(lines)
    assert drawn.count("\r") == 2 and drawn.endswith("\n") and "100%" in drawn


# -- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_route(monkeypatch: pytest.MonkeyPatch) -> Callable[[Route], None]:
    def install(route: Route) -> None:
        transport = httpx.MockTransport(route)
        factory = functools.partial(Client, transport=transport)
        monkeypatch.setattr(cli_api_kit, "Client", factory)

    return install


RUNS = {
    "runs": [
        {"id": "r1", "name": "first", "kind": "train", "status": "RUN_STATUS_FINISHED",
         "created_at": "2025-01-02T03:04:05.123Z", "metrics": {"auc": 0.91234567}},
        {"id": "r22", "name": "second", "kind": "tune", "status": "RUN_STATUS_RUNNING"},
    ],
    "page": {"next_page_token": ""},
}  # fmt: skip


def test_cli_runs_list_table_and_json(
    cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    cli_route(lambda request: httpx.Response(200, json=RUNS))
    assert cli.main(["runs", "list", "-p", "shop", "--token", "t"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "KIND", "STATUS", "CREATED", "METRICS"]
    assert lines[1].split()[:6] == ["r1", "first", "train", "FINISHED", "2025-01-02", "03:04:05"]
    assert lines[1].endswith("auc=0.912346")
    assert lines[0].index("NAME") == lines[1].index("first") == lines[2].index("second")
    assert cli.main(["runs", "list", "-p", "shop", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == RUNS["runs"]


def test_cli_api_error_exits_1_with_the_request_id(
    cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"error": {"code": "PERMISSION_DENIED", "message": "needs 'train'", "request_id": "q7"}}
    cli_route(lambda request: httpx.Response(403, json=body))
    assert cli.main(["runs", "cancel", "r1", "-p", "shop"]) == 1
    assert (
        capsys.readouterr().err.strip() == "error: PERMISSION_DENIED: needs 'train' (request id q7)"
    )


def test_cli_usage_errors_exit_2(
    cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    cli_route(lambda request: httpx.Response(200, json={}))
    assert (
        cli.main(["train", "-p", "shop", "--dataset", "d", "--algorithm", "a", "--param", "x"]) == 2
    )
    assert "NAME=VALUE" in capsys.readouterr().err
    assert cli.main(["models", "alias", "m", "prod", "-p", "shop"]) == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy", "d", "-p", "shop", "--model", "m"])  # --version or --alias missing
    assert exited.value.code == 2


def test_cli_train_builds_the_spec_and_follows_the_run(
    cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    bodies: list[dict[str, Any]] = []
    stream = (
        'event: progress\ndata: {"state": "RUN_STATE_RUNNING", "phase": "PHASE_FITTING",'
        ' "step": "3", "total_steps": "10", "step_unit": "round", "metrics": {"val_auc": 0.9}}'
        "\n\n: keep-alive\n\n"
        'event: progress\ndata: {"state": "RUN_STATE_FAILED", "error": "out of memory"}\n\n'
    )

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.read()))
            return httpx.Response(200, json={"run_id": "r5"})
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    cli_route(route)
    argv = ["train", "-p", "shop", "--dataset", "iris", "--algorithm", "sklearn.svc"]
    argv += ["--target", "species", "--param", "C=0.5", "kernel=rbf", "--cv", "5", "--follow"]
    assert cli.main(argv) == 1  # the run failed
    spec = bodies[0]["train"]
    assert spec["data"] == {"dataset": "iris", "target_column": "species"}
    assert spec["params"] == {"C": {"float_value": 0.5}, "kernel": {"string_value": "rbf"}}
    assert spec["cv"] == {"folds": 5}
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "run r5 submitted"
    assert out[1] == "running  fitting  round 3/10  val_auc=0.9"
    assert out[2] == "failed  out of memory"


def test_cli_table_formatter() -> None:
    rendered = cli_api_kit.table(
        [{"a": "x", "b": [1, 2]}, {"a": "longer", "b": None}], [("a", "a"), ("b", "b")]
    )
    assert rendered.splitlines() == ["A       B", "x       1, 2", "longer  -"]
    assert cli_api_kit.table([], [("a", "a")]) == "(none)"


def test_cli_datasets_import_uploads_ingests_and_follows(
    tmp_path: Path, cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    seen: list[tuple[str, str, Any]] = []
    done = {
        "id": "j1",
        "state": "INGEST_JOB_STATE_SUCCEEDED",
        "target": {"dataset": "orders"},
        "result": {"version": "2", "row_count": "2", "split_rows": {"train": "1", "test": "1"}},
    }
    stream = (
        'event: job\ndata: {"id": "j1", "state": "INGEST_JOB_STATE_RUNNING", "progress": {"phase":'
        ' "INGEST_PHASE_READING", "rows_read": "1", "bytes_read": "6", "bytes_total": "12"}}\n\n'
        f"event: job\ndata: {json.dumps(done)}\n\n"
    )

    def route(request: httpx.Request) -> httpx.Response:
        body = request.read()
        seen.append((request.method, request.url.path, body))
        if request.url.path.endswith("/uploads"):
            return httpx.Response(200, json={"upload_id": "u9"})
        if request.method == "POST":
            return httpx.Response(200, json={"id": "j1", "state": "INGEST_JOB_STATE_QUEUED"})
        return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})

    cli_route(route)
    argv = ["datasets", "import", str(path), "-p", "shop", "--name", "orders"]
    assert cli.main([*argv, "--split", "train=0.5", "test=0.5", "--split-column", "b"]) == 0
    assert [(m, p) for m, p, _ in seen] == [
        ("POST", "/api/v1/projects/shop/uploads"),
        ("POST", "/api/v1/projects/shop/ingest-jobs"),
        ("GET", "/api/v1/projects/shop/ingest-jobs/j1/events"),
    ]
    assert seen[0][2] == path.read_bytes()
    job = json.loads(seen[1][2])
    assert job["recipe"]["sources"] == [{"alias": "data", "file": {"upload_id": "u9"}}]
    assert job["recipe"]["split"]["method"] == "SPLIT_METHOD_STRATIFIED"
    assert job["target"]["dataset"] == "orders"
    captured = capsys.readouterr()
    assert "100%" in captured.err and "\ringest running reading 1 rows read 50%" in captured.err
    assert "version       2" in captured.out and "train=1 test=1" in captured.out


def test_cli_quotas_set_list_and_usage(
    cli_route: Callable[[Route], None], capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[httpx.Request] = []
    quota = {"model": "", "rate_per_second": 5.0, "burst": 5, "period": None}
    usage = {
        "first_day": "2026-01-01",
        "last_day": "2026-01-02",
        "items": [{"day": "2026-01-02", "model": "churn", "requests": 7, "refused": 1}],
    }

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        request.read()
        if request.url.path.endswith("/usage"):
            return httpx.Response(200, json=usage)
        return httpx.Response(200, json={"items": [quota]} if request.method == "GET" else quota)

    cli_route(route)
    assert cli.main(["quotas", "set", "t1", "--rate", "5", "--model", "churn"]) == 0
    assert seen[0].url.path == "/api/v1/tokens/t1/quotas/churn"
    assert json.loads(seen[0].content) == {"rate_per_second": 5.0}
    assert cli.main(["quotas", "list", "t1"]) == 0
    assert cli.main(["quotas", "usage", "t1", "--from", "2026-01-01"]) == 0
    assert seen[2].url.params["from"] == "2026-01-01" and "to" not in seen[2].url.params
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["MODEL", "RATE/S", "BURST", "PERIOD", "LIMIT", "UPDATED"]
    assert out[-2].split() == ["DAY", "MODEL", "REQUESTS", "REFUSED", "ERRORS"]
    assert out[-1].split() == ["2026-01-02", "churn", "7", "1", "-"]
    assert cli.main(["quotas", "set", "t1", "--burst", "3"]) == 2
