"""The ML routes refuse what they must: malformed or mismatched jobs, unknown algorithms, runs and
versions, a trainer that is down, a token without the scope or of another project."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway
from tests.gateway.ml_fixtures import API, ml_gateway, project_path, stack, train_body, trainer
from tests.trainer.service_fixtures import Stack

__all__ = ["ml_gateway", "stack", "trainer"]

pytestmark = pytest.mark.integration

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


def _tune_body(stack: Stack) -> dict[str, Any]:
    base = train_body(stack, "sklearn.logistic_regression")["train"]
    return {"tune": {"base": base, "budget": {"max_trials": 1}}}


@pytest.mark.parametrize(
    ("route", "body", "fragment"),
    [
        ("training-jobs", b"{not json", "not valid JSON"),
        ("training-jobs", {}, "needs `train`"),
        ("training-jobs", "tune", "/tuning-jobs"),
        ("tuning-jobs", "train", "/training-jobs"),
        ("training-jobs", {"train": {}, "colour": "red"}, "colour"),
        ("training-jobs", {"train": {}, "project": "elsewhere"}, "from the path"),
        ("training-jobs", "unknown-algorithm", "sklearn.nope"),
    ],
)
async def test_bad_submissions_are_400(
    ml_gateway: Gateway, stack: Stack, route: str, body: Any, fragment: str
) -> None:
    if body == "tune":
        body = _tune_body(stack)
    elif body == "train":
        body = train_body(stack, "sklearn.logistic_regression")
    elif body == "unknown-algorithm":
        body = train_body(stack, "sklearn.nope")
    content = body if isinstance(body, bytes) else None
    json_body = None if isinstance(body, bytes) else body
    response = await ml_gateway.admin.post(
        project_path(stack, route),
        content=content,
        json=json_body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert fragment in response.json()["error"]["message"]


async def test_a_valid_job_that_only_validates_creates_no_run(
    ml_gateway: Gateway, stack: Stack
) -> None:
    body = {**train_body(stack, "sklearn.logistic_regression"), "validate_only": True}
    response = await ml_gateway.admin.post(project_path(stack, "training-jobs"), json=body)
    assert response.status_code == 202, response.text
    assert response.json()["run_id"] == ""
    assert response.json()["resolved"]["train"]["data"]["feature_columns"]


@pytest.mark.parametrize(
    ("method", "parts", "params"),
    [
        ("GET", ("runs", UNKNOWN_RUN), None),
        ("GET", ("runs", UNKNOWN_RUN, "metrics", "val_loss"), None),
        ("GET", ("runs", UNKNOWN_RUN, "events"), None),
        ("POST", ("runs", UNKNOWN_RUN, "cancel"), None),
        ("DELETE", ("runs", UNKNOWN_RUN), None),
        ("GET", ("runs-compare",), {"run_id": [UNKNOWN_RUN, "another"]}),
        ("GET", ("models", "no-such-model", "versions", "1"), None),
        ("GET", ("deployments", "no-such-deployment"), None),
    ],
)
async def test_unknown_entities_are_404(
    ml_gateway: Gateway, stack: Stack, method: str, parts: tuple[str, ...], params: Any
) -> None:
    response = await ml_gateway.admin.request(method, project_path(stack, *parts), params=params)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("parts", "params", "fragment"),
    [
        (("runs-compare",), {"run_id": ["only-one"]}, "2 to 20"),
        (("runs-compare",), {"run_id": [str(n) for n in range(21)]}, "got 21"),
        (("models", "m", "versions", "v1"), None, "'v1'"),
        (("lineage",), {"id": "x"}, "kind"),
        (("lineage",), {"kind": "run", "id": "x", "direction": "sideways"}, "sideways"),
    ],
)
async def test_bad_queries_are_400(
    ml_gateway: Gateway, stack: Stack, parts: tuple[str, ...], params: Any, fragment: str
) -> None:
    response = await ml_gateway.admin.get(project_path(stack, *parts), params=params)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


async def test_a_patch_without_a_change_is_400(ml_gateway: Gateway, stack: Stack) -> None:
    response = await ml_gateway.admin.patch(project_path(stack, "deployments", "d"), json={})
    assert response.status_code == 400 and "update_mask" in response.json()["error"]["message"]


async def test_trainer_down_is_503_at_once(stack: Stack, tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, registry_address=stack.registry_address)
    async with running_gateway(settings) as gateway:
        started = time.monotonic()
        submitted = await gateway.admin.post(
            project_path(stack, "training-jobs"),
            json=train_body(stack, "sklearn.logistic_regression"),
        )
        events = await gateway.admin.get(project_path(stack, "runs", UNKNOWN_RUN, "events"))
        listed = await gateway.admin.get(f"{API}/algorithms")
        assert time.monotonic() - started < 3
    for response in (submitted, events, listed):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "UNAVAILABLE"


async def test_scopes_and_other_projects(ml_gateway: Gateway, stack: Stack) -> None:
    reader = ml_gateway.as_token(await ml_gateway.issue(stack.project, ["read"]))
    body = train_body(stack, "sklearn.logistic_regression")
    refused = await reader.post(project_path(stack, "training-jobs"), json=body)
    assert refused.status_code == 403 and "'train' scope" in refused.json()["error"]["message"]
    alias = project_path(stack, "models", "m", "aliases", "production")
    assert (await reader.put(alias, json={"version": 1})).status_code == 403
    assert (await reader.get(project_path(stack, "runs"))).status_code == 200

    elsewhere = ml_gateway.as_token(await ml_gateway.issue("elsewhere", ["read", "train"]))
    for path in (
        project_path(stack, "runs"),
        project_path(stack, "deployments"),
        project_path(stack, "runs", UNKNOWN_RUN, "events"),
    ):
        hidden = await elsewhere.get(path)
        assert hidden.status_code == 404, (path, hidden.text)
        assert hidden.json()["error"]["message"] == f"project {stack.project!r} does not exist"
    submitted = await elsewhere.post(project_path(stack, "training-jobs"), json=body)
    assert submitted.status_code == 404
    # The project itself is real: its own token sees it.
    assert (await reader.get(project_path(stack, "deployments"))).status_code == 200
