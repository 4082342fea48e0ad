"""The SDK and the CLI against a real gateway on a real socket (uvicorn on port 0), in front of the
trainer tests' real registry, ingest and trainer (real NATS) and a real predictor: projects and
datasets (upload with progress, ingest followed live, catalog), training followed live, runs
compared, a model aliased, deployed and predicted, tokens, quotas and usage, and each kind of
error as an ApiError. The client is synchronous, so it runs in a worker thread while the servers
run in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aimass import ApiError, Client, cli
from aimass.client import file_recipe
from services.predictor.server import build_server as build_predictor
from tests.gateway.data_fixtures import iris_csv, unique
from tests.gateway.gateway_fixtures import ADMIN_SECRET, gateway_settings, served_gateway
from tests.gateway.predict_fixtures import _predictor_settings
from tests.trainer.service_fixtures import Stack, TrainerHandle, stack, trainer

__all__ = ["stack", "trainer"]

pytestmark = pytest.mark.integration

T = TypeVar("T")
MODEL = "sdk-cancer"
DEPLOYMENT = "sdk-cancer-prod"
TARGET = "target"


async def off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, *args, **kwargs)


@pytest.fixture(scope="module")
async def predictor_address(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A predictor serving the stack's deployments (its registry, bus and artifact store)."""
    home = tmp_path_factory.mktemp("sdk-predictor")
    settings = _predictor_settings(home, stack.registry_address, stack.namespace)
    settings = settings.model_copy(update={"store_url": stack.store_url})
    async with contextlib.AsyncExitStack() as exit_stack:
        yield (await build_predictor(settings, exit_stack)).running.address


@pytest.fixture(scope="module")
async def url(
    stack: Stack,
    trainer: TrainerHandle,
    predictor_address: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    settings = gateway_settings(
        tmp_path_factory.mktemp("sdk-gateway"),
        registry_address=stack.registry_address,
        ingest_address=stack.ingest_address,
        trainer_address=trainer.server.running.address,
        predictor_address=predictor_address,
    )
    # The trainer's first call loads its algorithm library: seconds, more on a busy machine.
    settings = settings.model_copy(update={"gateway_backend_timeout_seconds": 30})
    async with served_gateway(settings) as base:
        yield base


@pytest.fixture(scope="module")
def admin(url: str) -> Iterator[Client]:
    with Client(url, ADMIN_SECRET) as client:
        yield client


@pytest.fixture
def sdk(url: str) -> Iterator[Callable[..., Client]]:
    """Clients of the served gateway, closed after the test."""
    made: list[Client] = []

    def make(token: str = ADMIN_SECRET, base: str = "", **options: Any) -> Client:
        made.append(Client(base or url, token, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@dataclass
class Trained:
    boosted: str  # run ids: model versions 1 and 2 of MODEL
    linear: str
    updates: list[dict[str, Any]]  # the boosted run's progress, as followed


def train_and_follow(
    client: Client, stack: Stack, algorithm: str, **params: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Submit a training job on the cancer dataset writing MODEL; its run id and progress."""
    spec = {
        "algorithm": algorithm,
        "task": "TASK_TYPE_CLASSIFICATION",
        "data": {"dataset_version_id": stack.datasets["cancer"], "target_column": TARGET},
        "params": params,
        "seed": 7,
        "output": {"model": MODEL},
    }
    submitted = client.train(stack.project, spec, run_name=f"sdk {algorithm}", tags={"by": "sdk"})
    assert submitted["resolved"]["train"]["algorithm"] == algorithm
    return submitted["run_id"], list(client.watch_run(stack.project, submitted["run_id"]))


@pytest.fixture(scope="module")
async def trained(admin: Client, stack: Stack) -> Trained:
    boosted, updates = await off_loop(
        train_and_follow, admin, stack, "xgboost.gbdt", n_estimators=8, max_depth=2
    )
    linear, last = await off_loop(train_and_follow, admin, stack, "sklearn.logistic_regression")
    assert last[-1]["state"] == "RUN_STATE_FINISHED", last[-1]
    return Trained(boosted, linear, updates)


def cancer_rows(client: Client, stack: Stack, count: int) -> list[dict[str, Any]]:
    """Test rows of the cancer dataset (via preview) as feature objects."""
    preview = client.preview(stack.project, "cancer", split="test", limit=count)
    names = [field["name"] for field in preview["schema"]["fields"]]
    rows = [dict(zip(names, row, strict=True)) for row in preview["rows"]]
    return [{k: v for k, v in row.items() if k not in (TARGET, "_split")} for row in rows]


def predict_when_served(client: Client, project: str, rows: list[dict[str, Any]]) -> Any:
    """A prediction once a predictor has loaded the new deployment (404 until then)."""
    end = time.monotonic() + 60
    while True:
        try:
            return client.predict(project, DEPLOYMENT, rows)
        except ApiError as error:
            if error.status != 404 or time.monotonic() > end:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
async def deployment(admin: Client, stack: Stack, trained: Trained) -> dict[str, Any]:
    """MODEL's alias production at version 1, deployed following it and served."""
    await off_loop(admin.set_alias, stack.project, MODEL, "production", 1)
    created = await off_loop(admin.deploy, stack.project, DEPLOYMENT, MODEL, alias="production")
    rows = await off_loop(cancer_rows, admin, stack, 2)
    await off_loop(predict_when_served, admin, stack.project, rows)
    return created


# -- projects and datasets --------------------------------------------------------------------


def iris_file(folder: Path, copies: int) -> Path:
    """Iris as CSV, its rows repeated ``copies`` times (400 copies: 1.1 MB, two chunks)."""
    header, _, rows = iris_csv().partition(b"\n")
    path = folder / "iris.csv"
    path.write_bytes(header + b"\n" + rows * copies)
    return path


async def test_sdk_projects_upload_ingest_and_catalog(
    admin: Client, stack: Stack, tmp_path: Path
) -> None:
    name = unique("sdk")
    created = await off_loop(admin.create_project, name, "through the SDK", {"team": "ml"})
    assert created["name"] == name and created["labels"] == {"team": "ml"}
    assert [p["name"] for p in await off_loop(admin.projects, name)] == [name]
    assert (await off_loop(admin.project, name))["description"] == "through the SDK"

    path = iris_file(tmp_path, copies=400)
    sent: list[tuple[int, int]] = []
    uploaded = await off_loop(
        admin.upload, name, path, progress=lambda done, total: sent.append((done, total))
    )
    size = path.stat().st_size
    assert int(uploaded["size_bytes"]) == size and uploaded["file_name"] == "iris.csv"
    assert sent[0] == (0, size) and sent[-1] == (size, size) and len(sent) == 3

    recipe = file_recipe(uploaded["upload_id"])
    preview = await off_loop(admin.preview_ingest, name, recipe, limit=3)
    assert len(preview["rows"]) == 3 and preview["schema"]["fields"][0]["name"] == "sepal_length"

    parts = [{"name": "train", "fraction": 0.8}, {"name": "test", "fraction": 0.2}]
    split = {"method": "SPLIT_METHOD_RANDOM", "parts": parts}
    recipe = file_recipe(uploaded["upload_id"], split)
    job = await off_loop(admin.ingest, name, "iris", recipe, description="iris x400")
    assert job["state"] in ("INGEST_JOB_STATE_QUEUED", "INGEST_JOB_STATE_RUNNING")
    updates = await off_loop(lambda: list(admin.watch_ingest(name, job["id"])))
    assert {u["id"] for u in updates} == {job["id"]}
    final = updates[-1]
    assert final["state"] == "INGEST_JOB_STATE_SUCCEEDED", final
    assert int(final["result"]["row_count"]) == 150 * 400
    split_rows = final["result"]["split_rows"]
    assert set(split_rows) == {"train", "test"} and sum(map(int, split_rows.values())) == 60_000
    succeeded = await off_loop(admin.ingest_jobs, name, state="succeeded", dataset="iris")
    assert [j["id"] for j in succeeded] == [job["id"]]
    assert await off_loop(admin.ingest_jobs, name, state="failed") == []

    await _read_the_dataset(admin, name, final["result"]["dataset_version_id"])
    await _share_into_another_catalog(admin, name, stack.project)
    assert (await off_loop(admin.delete_dataset, name, "iris"))["deleted_at"]
    with pytest.raises(ApiError) as deleted:
        await off_loop(admin.dataset, name, "iris")
    assert deleted.value.status == 404
    [ingest_run] = await off_loop(admin.runs, name)
    assert ingest_run["id"] == final["run_id"] and ingest_run["kind"] == "ingest"
    await off_loop(admin.delete_run, name, final["run_id"])
    assert (await off_loop(admin.delete_project, name))["deleted_at"]
    assert await off_loop(admin.projects, name) == []


async def _read_the_dataset(admin: Client, project: str, version_id: str) -> None:
    [dataset] = await off_loop(admin.datasets, project, "ir")
    assert dataset["name"] == "iris" and dataset["latest_version"] == "1"
    assert await off_loop(admin.datasets, project, "nothing-like-it") == []
    assert (await off_loop(admin.dataset, project, "iris"))["id"] == dataset["id"]
    [version] = await off_loop(admin.dataset_versions, project, "iris")
    assert version["id"] == version_id
    latest = await off_loop(admin.dataset_version, project, "iris")
    assert latest["id"] == version_id and latest["description"] == "iris x400"
    columns = ("petal_width", "target")
    rows = await off_loop(admin.preview, project, "iris", 1, "test", columns, limit=4)
    assert [f["name"] for f in rows["schema"]["fields"]] == list(columns)
    assert len(rows["rows"]) == 4


async def _share_into_another_catalog(admin: Client, project: str, reader: str) -> None:
    assert await off_loop(admin.catalog, reader, owner_project=project) == []
    sharing = await off_loop(admin.share, project, "iris", "shared", [reader])
    assert sharing == {"visibility": "VISIBILITY_SHARED", "shared_with": [reader]}
    [seen] = await off_loop(admin.catalog, reader, "iris", owner_project=project)
    assert (seen["project"], seen["name"]) == (project, "iris")
    assert await off_loop(admin.catalog, reader, "iris", owner_project="nobody") == []


# -- training, runs and models ----------------------------------------------------------------


async def test_sdk_algorithms(admin: Client) -> None:
    names = {a["name"] for a in await off_loop(admin.algorithms, "classification")}
    assert "xgboost.gbdt" in names and "sklearn.kmeans" not in names
    assert "sklearn.kmeans" in {a["name"] for a in await off_loop(admin.algorithms, "clustering")}
    gbdt = await off_loop(admin.algorithm, "xgboost.gbdt")
    assert "max_depth" in {h["name"] for h in gbdt["hyperparameters"]}


async def test_sdk_train_follow_and_compare(admin: Client, stack: Stack, trained: Trained) -> None:
    states = [u["state"] for u in trained.updates]
    assert states[-1] == "RUN_STATE_FINISHED" and "RUN_STATE_RUNNING" in states
    assert trained.updates[-1]["model_version"] == "1"
    assert {u["run_id"] for u in trained.updates} == {trained.boosted}

    run = await off_loop(admin.run, stack.project, trained.boosted)
    assert run["status"] == "RUN_STATUS_FINISHED" and run["tags"]["by"] == "sdk"
    finished = await off_loop(admin.runs, stack.project, "finished", "sdk ")
    assert {trained.boosted, trained.linear} <= {r["id"] for r in finished}
    assert len(await off_loop(admin.runs, stack.project, limit=1)) == 1
    history = await off_loop(admin.metric_history, stack.project, trained.boosted, "val_loss")
    steps = [int(step) for step in history["steps"]]
    assert len(steps) == len(history["values"]) >= 5 and steps == sorted(steps)

    ids = [trained.boosted, trained.linear]
    compared = await off_loop(admin.compare_runs, stack.project, ids)
    assert [r["id"] for r in compared["runs"]] == ids
    assert compared["params"]["algorithm"] == {
        ids[0]: "xgboost.gbdt",
        ids[1]: "sklearn.logistic_regression",
    }
    assert set(compared["metrics"]["test_accuracy"]) == set(ids)
    boosted = {"field": "params.algorithm", "op": "OPERATOR_EQ", "values": ["xgboost.gbdt"]}
    mine = {"field": "tags.by", "op": "OPERATOR_EQ", "values": ["sdk"]}
    found = await off_loop(admin.search_runs, stack.project, [boosted, mine])
    assert [r["id"] for r in found] == [trained.boosted]


async def test_sdk_models_and_aliases(admin: Client, stack: Stack, trained: Trained) -> None:
    [model] = await off_loop(admin.models, stack.project, MODEL)
    assert model["latest_version"] == "2"
    versions = await off_loop(admin.model_versions, stack.project, MODEL)
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    first = await off_loop(admin.model_version, stack.project, MODEL, 1)
    assert first["source_run_id"] == trained.boosted
    assert (await off_loop(admin.model_version, stack.project, MODEL))["version"] == "2"
    moved = await off_loop(admin.set_alias, stack.project, MODEL, "staging", 2)
    assert moved["aliases"]["staging"] == "2"
    history = await off_loop(admin.alias_history, stack.project, MODEL, "staging")
    assert [(m["from_version"], m["to_version"]) for m in history] == [("0", "2")]
    assert (
        "staging"
        not in (await off_loop(admin.delete_alias, stack.project, MODEL, "staging"))["aliases"]
    )


# -- deployments and predictions --------------------------------------------------------------


async def test_sdk_deploy_predict_and_roll_back(
    admin: Client, sdk: Callable[..., Client], stack: Stack, deployment: dict[str, Any]
) -> None:
    assert deployment["alias"] == "production" and deployment["resolved_version"] == "1"
    rows = await off_loop(cancer_rows, admin, stack, 3)
    issued = await off_loop(admin.create_token, "sdk predict", ["predict"], stack.project)
    caller = sdk(issued["secret"])
    answer = await off_loop(caller.predict, stack.project, DEPLOYMENT, rows)
    assert (answer["model"], answer["model_version"]) == (DEPLOYMENT, "1")
    assert len(answer["predictions"]) == 3 and len(answer["probabilities"][0]) == 2
    only = await off_loop(
        caller.predict, stack.project, DEPLOYMENT, rows[:1], outputs=["predictions"]
    )
    assert "probabilities" not in only and len(only["predictions"]) == 1
    tf = await off_loop(caller.predict_tf, DEPLOYMENT, rows)
    assert tf["predictions"] and len(tf["predictions"]) == 3

    canary = {"canary_version": 2, "canary_percent": 10, "max_batch_size": 8}
    patched = await off_loop(admin.update_deployment, stack.project, DEPLOYMENT, config=canary)
    assert patched["revision"] == "2" and patched["config"]["canary_percent"] == 10
    rolled = await off_loop(admin.rollback, stack.project, DEPLOYMENT)
    assert rolled["revision"] == "3" and rolled["config"]["canary_percent"] == 0
    revisions = await off_loop(admin.deployment_revisions, stack.project, DEPLOYMENT)
    assert [r["revision"] for r in revisions] == ["3", "2", "1"]  # newest first
    listed = await off_loop(admin.deployments, stack.project, MODEL)
    assert [d["name"] for d in listed] == [DEPLOYMENT]
    got = await off_loop(admin.deployment, stack.project, DEPLOYMENT)
    graph = await off_loop(admin.lineage, stack.project, "deployment", got["id"], depth=5)
    nodes = {(n["entity"]["kind"], n["entity"]["id"]) for n in graph["nodes"]}
    assert ("ENTITY_KIND_DATASET_VERSION", stack.datasets["cancer"]) in nodes


# -- tokens, quotas and usage -----------------------------------------------------------------


async def test_sdk_token_lifecycle(admin: Client, sdk: Callable[..., Client]) -> None:
    me = await off_loop(admin.whoami)
    assert me["project"] == "" and "admin" in me["scopes"]
    expires = datetime.now() + timedelta(days=1)  # naive: local time
    issued = await off_loop(
        admin.create_token, "ci", ["read", "predict"], "alpha", expires_at=expires
    )
    assert issued["secret"].startswith("amk_") and issued["project"] == "alpha"
    assert datetime.fromisoformat(issued["expires_at"]) == expires.astimezone(UTC)
    listed = await off_loop(admin.tokens)
    assert issued["id"] in {token["id"] for token in listed}
    assert (await off_loop(admin.token, issued["id"]))["name"] == "ci"

    ci = sdk(issued["secret"])
    who = await off_loop(ci.whoami)
    assert (who["token_id"], who["project"], who["scopes"]) == (
        issued["id"],
        "alpha",
        ["predict", "read"],
    )
    revoked = await off_loop(admin.revoke_token, issued["id"])
    assert revoked["revoked_at"]
    assert issued["id"] not in {token["id"] for token in await off_loop(admin.tokens)}
    assert issued["id"] in {t["id"] for t in await off_loop(admin.tokens, include_revoked=True)}


async def test_sdk_quotas_and_usage(
    admin: Client, sdk: Callable[..., Client], stack: Stack, deployment: dict[str, Any]
) -> None:
    issued = await off_loop(
        admin.create_token, "metered", ["predict"], stack.project, models=[DEPLOYMENT]
    )
    token_id = issued["id"]
    wide = await off_loop(admin.set_quota, token_id, rate_per_second=50)
    assert (wide["model"], wide["rate_per_second"], wide["burst"]) == ("", 50.0, 50)
    model = await off_loop(admin.set_quota, token_id, DEPLOYMENT, period="day", period_limit=99)
    assert (model["model"], model["rate_per_second"], model["period_limit"]) == (
        DEPLOYMENT,
        None,
        99,
    )
    quotas = await off_loop(admin.quotas, token_id)
    assert [(q["model"], q["period"]) for q in quotas] == [("", None), (DEPLOYMENT, "day")]

    rows = await off_loop(cancer_rows, admin, stack, 1)
    metered = sdk(issued["secret"])
    for _ in range(2):
        await off_loop(metered.predict, stack.project, DEPLOYMENT, rows)
    usage = await off_loop(admin.usage, token_id)
    today = datetime.now(UTC).date()
    assert usage["last_day"] == today.isoformat()
    [day] = [item for item in usage["items"] if item["model"] == DEPLOYMENT]
    assert (day["day"], day["requests"], day["refused"]) == (today.isoformat(), 2, 0)
    yesterday = today - timedelta(days=1)
    assert (await off_loop(admin.usage, token_id, yesterday, yesterday))["items"] == []
    totals = (await off_loop(admin.usage))["items"]
    [total] = [t for t in totals if t["token_id"] == token_id and t["model"] == DEPLOYMENT]
    assert (total["token_name"], total["requests"]) == ("metered", 2)

    await off_loop(admin.delete_quota, token_id, DEPLOYMENT)
    assert [q["model"] for q in await off_loop(admin.quotas, token_id)] == [""]
    with pytest.raises(ApiError) as missing:
        await off_loop(admin.delete_quota, token_id, DEPLOYMENT)
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")


# -- errors -----------------------------------------------------------------------------------


async def test_sdk_errors_carry_status_code_message_and_request_id(
    admin: Client, sdk: Callable[..., Client], stack: Stack
) -> None:
    with pytest.raises(ApiError) as unknown_run:
        await off_loop(admin.run, stack.project, "no-such-run")
    error = unknown_run.value
    assert (error.status, error.code) == (404, "NOT_FOUND")
    assert "no-such-run" in error.message and error.request_id
    with pytest.raises(ApiError) as unknown_stream:
        await off_loop(lambda: list(admin.watch_run(stack.project, "no-such-run")))
    assert (unknown_stream.value.status, unknown_stream.value.code) == (404, "NOT_FOUND")
    with pytest.raises(ApiError) as not_served:
        await off_loop(admin.predict_tf, "no-such-model", [[1.0]])
    assert not_served.value.status == 404 and "no-such-model" in not_served.value.message

    with pytest.raises(ApiError) as bad_task:
        await off_loop(admin.algorithms, "astrology")
    assert (bad_task.value.status, bad_task.value.code) == (400, "INVALID_ARGUMENT")
    assert "astrology" in bad_task.value.message
    with pytest.raises(ApiError) as one_run:
        await off_loop(admin.compare_runs, stack.project, ["only-one"])
    assert one_run.value.status == 400 and "compare 2 to" in one_run.value.message
    with pytest.raises(ApiError) as bad_scope:
        await off_loop(admin.create_token, "x", ["fly"], "alpha")
    assert bad_scope.value.status == 400 and "scopes" in bad_scope.value.message

    with pytest.raises(ApiError) as unauthenticated:
        await off_loop(sdk("amk_nope").whoami)
    assert (unauthenticated.value.status, unauthenticated.value.code) == (401, "UNAUTHENTICATED")
    issued = await off_loop(admin.create_token, "reader", ["read"], stack.project)
    reader = sdk(issued["secret"])
    with pytest.raises(ApiError) as refused:
        await off_loop(reader.create_token, "x", ["read"])
    assert (refused.value.status, refused.value.code) == (403, "PERMISSION_DENIED")
    with pytest.raises(ApiError) as other_project:
        await off_loop(reader.datasets, "some-other-project")
    assert other_project.value.status == 404

    await off_loop(admin.set_quota, issued["id"], rate_per_second=0.5, burst=1)
    await off_loop(reader.whoami)
    with pytest.raises(ApiError) as throttled:
        await off_loop(reader.whoami)
    assert (throttled.value.status, throttled.value.code) == (429, "RESOURCE_EXHAUSTED")
    assert throttled.value.retry_after is not None and throttled.value.retry_after >= 1


async def test_sdk_uses_the_token_a_local_gateway_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = gateway_settings(tmp_path).model_copy(update={"admin_token": None})
    monkeypatch.delenv("AIMASS_TOKEN", raising=False)
    monkeypatch.setenv("AIMASS_HOME", str(tmp_path))
    async with served_gateway(settings) as base:
        monkeypatch.setenv("AIMASS_URL", base)
        assert (tmp_path / "admin-token").is_file()
        with Client() as client:
            me = await off_loop(client.whoami)
    assert "admin" in me["scopes"]


async def test_sdk_unreachable_gateway(sdk: Callable[..., Client]) -> None:
    with pytest.raises(ApiError) as raised:
        await off_loop(sdk("x", "http://127.0.0.1:1", timeout=2).whoami)
    assert raised.value.status == 0 and raised.value.code == "UNAVAILABLE"


# -- CLI --------------------------------------------------------------------------------------


async def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    """The CLI's exit status, stdout and stderr."""
    status = await off_loop(cli.main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_cli_import_and_runs_with_json(
    url: str, stack: Stack, trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = ["--url", url, "--token", ADMIN_SECRET, "-p", stack.project]
    path = iris_file(tmp_path, copies=1)
    name = unique("cli-iris")
    argv = ["datasets", "import", str(path), "--name", name, "--split", "a=0.5", "b=0.5"]
    status, out, err = await run_cli(capsys, [*argv, *auth, "--json"])
    assert status == 0, err
    job = json.loads(out)
    assert job["state"] == "INGEST_JOB_STATE_SUCCEEDED" and job["result"]["row_count"] == "150"
    assert "100%" in err and "ingest " in err  # the upload's bar, then the job's line

    status, out, _ = await run_cli(capsys, ["datasets", "list", "--name-contains", name, *auth])
    assert status == 0 and out.splitlines()[1].split()[:3] == [name, stack.project, "1"]

    ids = [trained.boosted, trained.linear]
    status, out, _ = await run_cli(capsys, ["runs", "compare", *ids, *auth, "--json"])
    assert status == 0 and set(json.loads(out)["metrics"]["test_accuracy"]) == set(ids)
    status, out, _ = await run_cli(capsys, ["runs", "show", trained.boosted, *auth])
    assert status == 0 and "xgboost.gbdt" in out

    no_project = auth[:4]
    argv = ["algorithms", "--task", "regression", *no_project, "--json"]
    status, out, _ = await run_cli(capsys, argv)
    names = {a["name"] for a in json.loads(out)}
    assert status == 0 and "xgboost.gbdt" in names and "sklearn.logistic_regression" not in names


async def test_cli_predict_quotas_and_errors(
    url: str,
    admin: Client,
    stack: Stack,
    deployment: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth = ["--url", url, "--token", ADMIN_SECRET]
    rows = await off_loop(cancer_rows, admin, stack, 2)
    argv = ["predict", DEPLOYMENT, "--rows", json.dumps(rows), "-p", stack.project, *auth]
    status, out, err = await run_cli(capsys, [*argv, "--json"])
    assert status == 0, err
    assert json.loads(out)["model"] == DEPLOYMENT and len(json.loads(out)["predictions"]) == 2

    issued = await off_loop(admin.create_token, "cli", ["read"], stack.project)
    argv = ["quotas", "set", issued["id"], "--rate", "5", "--period", "month", "--limit", "9"]
    status, out, err = await run_cli(capsys, [*argv, *auth, "--json"])
    assert status == 0, err
    assert (json.loads(out)["rate_per_second"], json.loads(out)["period_limit"]) == (5.0, 9)
    status, out, _ = await run_cli(capsys, ["quotas", "list", issued["id"], *auth])
    assert status == 0 and out.splitlines()[1].split()[:5] == ["(all)", "5", "5", "month", "9"]
    today = date.today().isoformat()
    argv = ["quotas", "usage", issued["id"], "--from", today, "--to", today, *auth, "--json"]
    status, out, _ = await run_cli(capsys, argv)
    assert status == 0 and json.loads(out)["first_day"] == today

    status, out, err = await run_cli(capsys, ["quotas", "delete", issued["id"], *auth])
    assert status == 0 and "removed" in err
    status, out, err = await run_cli(capsys, ["quotas", "delete", issued["id"], *auth])
    assert status == 1 and err.startswith("error: NOT_FOUND:") and "(request id " in err


async def test_cli_tokens_and_whoami(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    auth = ["--url", url, "--token", ADMIN_SECRET]
    argv = ["tokens", "create", "ci", "--project", "alpha", "--scope", "read", "predict"]
    status, out, _ = await run_cli(capsys, [*argv, *auth, "--json"])
    issued = json.loads(out)
    assert status == 0 and issued["project"] == "alpha" and issued["secret"].startswith("amk_")

    status, out, _ = await run_cli(capsys, ["tokens", "list", *auth])
    table = out.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "PROJECT", "SCOPES"]
    row = next(line for line in table if line.startswith(issued["id"]))
    assert "alpha" in row and "predict, read" in row

    as_ci = ["whoami", "--url", url, "--token", issued["secret"]]
    status, out, _ = await run_cli(capsys, [*as_ci, "--json"])
    assert status == 0 and json.loads(out)["project"] == "alpha"
    assert (await run_cli(capsys, ["tokens", "revoke", issued["id"], *auth]))[0] == 0
    status, _, err = await run_cli(capsys, as_ci)
    assert status == 1 and err.startswith("error: UNAUTHENTICATED:") and "(request id " in err


async def test_cli_token_create_shows_the_secret_once(
    url: str, sdk: Callable[..., Client], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tokens", "create", "bot", "--project", "beta", "--scope", "train", "read"]
    status, out, _ = await run_cli(capsys, [*argv, "--url", url, "--token", ADMIN_SECRET])
    assert status == 0
    secret = out.rsplit("secret (shown once, store it now): ", 1)[1].strip()
    who = await off_loop(sdk(secret).whoami)
    assert who["project"] == "beta" and who["scopes"] == ["read", "train"]
