"""The tabular convenience route: rows of column -> value in, each output by name out, on a real
registry and predictor; missing values, versions, output selection, projects and bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import REGISTRY

from services.gateway.predict_rows import column_tensor
from tests.gateway.predict_fixtures import ALIAS, Stack, prediction_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with prediction_stack(tmp_path_factory.mktemp("gw-rows")) as running:
        yield running


def _path(stack: Stack, name: str = "tabular", project: str = "") -> str:
    return f"/api/v1/projects/{project or stack.project}/deployments/{name}/predict"


async def _predict(stack: Stack, body: dict[str, Any], name: str = "tabular") -> Any:
    response = await stack.gateway.admin.post(_path(stack, name), json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_rows_answer_what_the_model_predicts(stack: Stack) -> None:
    labels, probabilities = stack.expected(stack.rows)
    rows = json.loads(stack.rows.to_json(orient="records"))
    answer = await _predict(stack, {"rows": rows})
    assert list(answer)[:3] == ["model", "model_version", "prediction_id"]
    assert answer["model"] == "tabular" and answer["model_version"] == "1"
    assert len(answer["prediction_id"]) >= 16
    assert answer["predictions"] == labels
    np.testing.assert_allclose(answer["probabilities"], probabilities, rtol=1e-6)


async def test_concurrent_requests_fuse_and_each_caller_gets_its_own_rows(stack: Stack) -> None:
    """Coalescing over the real predictor: 40 callers at once, of 1 to 3 rows each, reach it in
    fewer calls; each gets the model's answer for its own rows and a prediction id of its own."""
    starts = len(stack.rows) - 2
    frames = [stack.rows.iloc[i % starts : i % starts + 1 + i % 3] for i in range(40)]

    def sample(suffix: str) -> float:
        return REGISTRY.get_sample_value(f"aimass_gateway_predictor_call_requests_{suffix}") or 0

    requests_before, calls_before = sample("sum"), sample("count")
    answers = await asyncio.gather(
        *(
            _predict(stack, {"rows": json.loads(frame.to_json(orient="records"))})
            for frame in frames
        )
    )
    for frame, answer in zip(frames, answers, strict=True):
        labels, probabilities = stack.expected(frame)
        assert answer["predictions"] == labels
        np.testing.assert_allclose(answer["probabilities"], probabilities, rtol=1e-6)
    assert len({answer["prediction_id"] for answer in answers}) == 40
    assert sample("sum") - requests_before == 40
    assert sample("count") - calls_before < 40


async def test_nulls_and_absent_keys_are_missing_values(stack: Stack) -> None:
    rows = [
        {"x": None, "n": 3, "color": "red"},
        {"x": 1.5, "color": None},
        {"n": 7},
        {"x": -2.0, "n": 1, "color": "blue"},
    ]
    frame = pd.DataFrame(
        {
            "x": [np.nan, 1.5, np.nan, -2.0],
            "n": [3.0, np.nan, 7.0, 1.0],
            "color": pd.Series(["red", None, None, "blue"], dtype=object),
        }
    )
    labels, probabilities = stack.expected(frame)
    answer = await _predict(stack, {"rows": rows})
    assert answer["predictions"] == labels
    np.testing.assert_allclose(answer["probabilities"], probabilities, rtol=1e-6)


async def test_versions_and_output_selection(stack: Stack) -> None:
    row = {"x": 0.3, "n": 2, "color": "green"}
    for version in (1, "1"):
        answer = await _predict(stack, {"rows": [row], "version": version})
        assert answer["model_version"] == "1"
    narrowed = await _predict(stack, {"rows": [row], "outputs": ["probabilities"]})
    assert "predictions" not in narrowed and len(narrowed["probabilities"][0]) == 2
    onnx = await _predict(stack, {"rows": [{"x": 4.0}], "version": ALIAS}, "half-plus-two")
    assert onnx["y"] == [4.0]
    missing = await stack.gateway.admin.post(_path(stack), json={"rows": [row], "version": 9})
    assert missing.status_code == 404
    assert "no version '9'" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"rows": []}, "non-empty list"),
        ({"rows": {"x": 1}}, "non-empty list"),
        ({"rows": [1, 2]}, "row 0 must be an object"),
        ({"rows": [{"x": [1, 2]}]}, "holds a list"),
        ({"rows": [{"x": 1.0}], "version": 1.5}, '"version"'),
        ({"rows": [{"x": 1.0}], "outputs": "predictions"}, '"outputs"'),
        ({"rows": [{"x": "abc", "n": 1, "color": "red"}]}, "'x'"),  # the predictor's message
        ({"rows": [{"x": 1.0, "n": 1, "colour": "red"}]}, "'colour'"),
    ],
)
async def test_bad_rows_are_400(stack: Stack, body: dict[str, Any], fragment: str) -> None:
    response = await stack.gateway.admin.post(_path(stack), json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT" and fragment in error["message"], error


async def test_malformed_json_is_400(stack: Stack) -> None:
    response = await stack.gateway.admin.post(
        _path(stack), content=b"rows", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_auth_and_projects(stack: Stack) -> None:
    body = {"rows": [{"x": 0.1, "n": 1, "color": "red"}]}
    assert (await stack.gateway.client.post(_path(stack), json=body)).status_code == 401
    reader = stack.gateway.as_token(await stack.token(["read"]))
    assert (await reader.post(_path(stack), json=body)).status_code == 403
    listed = stack.gateway.as_token(await stack.token(["predict"], models=["sensors"]))
    assert (await listed.post(_path(stack), json=body)).status_code == 404
    member = stack.gateway.as_token(await stack.token(["predict"]))
    assert (await member.post(_path(stack), json=body)).status_code == 200
    foreign = await member.post(_path(stack, "elsewhere", stack.other_project), json=body)
    assert foreign.status_code == 404
    assert "project" in foreign.json()["error"]["message"]
    # the admin token spans projects, but a deployment is looked for in the project named
    misplaced = await stack.gateway.admin.post(_path(stack, "elsewhere"), json=body)
    unknown = await stack.gateway.admin.post(_path(stack, "nowhere"), json=body)
    assert misplaced.status_code == unknown.status_code == 404
    elsewhere = await stack.gateway.admin.post(
        _path(stack, "elsewhere", stack.other_project), json={"rows": [{"x": 2.0}]}
    )
    assert elsewhere.status_code == 200 and elsewhere.json()["y"] == [3.0]


async def test_the_route_is_documented(stack: Stack) -> None:
    paths = (await stack.gateway.client.get("/openapi.json")).json()["paths"]
    route = paths["/api/v1/projects/{project}/deployments/{name}/predict"]["post"]
    assert route["security"] == [{"bearer": ["predict"]}]
    schema = route["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["rows"]


@pytest.mark.parametrize(
    ("values", "datatype"),
    [
        ([1, 2], "INT64"),
        ([1, 2.5], "FP64"),
        ([1, None], "FP64"),
        ([True, False], "BOOL"),
        ([True, 2], "BYTES"),  # true is not the number 1 here
        (["a", 1], "BYTES"),
    ],
)
def test_a_column_is_one_datatype(values: list[Any], datatype: str) -> None:
    assert column_tensor("c", values)[0] == datatype
