"""TensorFlow Serving's REST API through the gateway, on a real registry and predictor: the REST
doc's examples (row and columnar, b64, several named inputs), versions and labels, model status
and metadata, auth, bad input, a predictor that is down and a deadline that passes."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import numpy as np
import pytest

from aimass.inference.v2 import open_inference_pb2_grpc
from services.common.errors import NotFound
from services.gateway.auth import Principal
from services.gateway.predict_targets import PredictTargets
from tests.gateway.gateway_fixtures import UNUSED_ADDRESS, gateway_settings, running_gateway
from tests.gateway.predict_fixtures import ALIAS, Stack, prediction_stack

pytestmark = pytest.mark.integration

DOC_ROWS = {
    "instances": [
        {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
        {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]},
    ]
}
DOC_COLUMNS = {
    "inputs": {
        "tag": ["foo", "bar"],
        "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
        "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]],
    }
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with prediction_stack(tmp_path_factory.mktemp("gw-tf")) as running:
        yield running


async def _predict(stack: Stack, path: str, body: Any) -> Any:
    response = await stack.gateway.admin.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _refused(stack: Stack, path: str, body: Any, status: int, *fragments: str) -> str:
    response = await stack.gateway.admin.post(path, json=body)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str)
    for fragment in fragments:
        assert fragment in message, message
    return message


async def test_half_plus_two_in_row_and_columnar_format(stack: Stack) -> None:
    path = "/v1/models/half-plus-two:predict"
    rows = await _predict(stack, path, {"instances": [1.0, 2.0, 5.0]})
    assert rows == {"predictions": [2.5, 3.0, 4.5]}
    columns = await _predict(stack, path, {"inputs": [1.0, 2.0, 5.0]})
    assert columns == {"outputs": [2.5, 3.0, 4.5]}
    named = await _predict(
        stack, path, {"signature_name": "serving_default", "instances": [{"x": 4}]}
    )
    assert named == {"predictions": [4.0]}


async def test_the_docs_named_inputs_in_both_formats(stack: Stack) -> None:
    path = "/v1/models/sensors:predict"
    rows = await _predict(stack, path, DOC_ROWS)
    assert rows == {
        "predictions": [
            {"total": 25.0, "tag_bytes": {"b64": "Zm9v"}},
            {"total": 38.0, "tag_bytes": {"b64": "YmFy"}},
        ]
    }
    columns = await _predict(stack, path, DOC_COLUMNS)
    assert columns == {
        "outputs": {"total": [25.0, 38.0], "tag_bytes": [{"b64": "Zm9v"}, {"b64": "YmFy"}]}
    }


async def test_b64_values_are_bytes(stack: Stack) -> None:
    encoded = base64.b64encode("héllo".encode()).decode()  # ONNX strings are UTF-8 text
    row = {"tag": {"b64": encoded}, "signal": [0, 0, 0, 0, 1], "sensor": [[0, 0], [0, 0]]}
    answer = await _predict(stack, "/v1/models/sensors:predict", {"instances": [row]})
    assert answer == {"predictions": [{"total": 1.0, "tag_bytes": {"b64": encoded}}]}


async def test_trainer_model_rows_match_the_model(stack: Stack) -> None:
    labels, probabilities = stack.expected(stack.rows)
    records = json.loads(stack.rows.to_json(orient="records"))
    answer = await _predict(stack, "/v1/models/tabular:predict", {"instances": records})
    assert [row["predictions"] for row in answer["predictions"]] == labels
    got = [row["probabilities"] for row in answer["predictions"]]
    np.testing.assert_allclose(got, probabilities, rtol=1e-6)
    # plain lists in column order: one 2-D tensor, which a trainer model takes as well
    lists = [list(row.values()) for row in records]
    matrix = await _predict(stack, "/v1/models/tabular:predict", {"instances": lists})
    assert [row["predictions"] for row in matrix["predictions"]] == labels
    columns = json.loads(stack.rows.to_json(orient="columns"))
    columnar = await _predict(
        stack,
        "/v1/models/tabular:predict",
        {"inputs": {name: list(values.values()) for name, values in columns.items()}},
    )
    assert columnar["outputs"]["predictions"] == labels


async def test_versions_and_labels(stack: Stack) -> None:
    body = {"instances": [2.0]}
    for path in ("versions/1", f"labels/{ALIAS}"):
        answer = await _predict(stack, f"/v1/models/half-plus-two/{path}:predict", body)
        assert answer == {"predictions": [3.0]}
    await _refused(
        stack, "/v1/models/half-plus-two/versions/7:predict", body, 404, "no version '7'"
    )
    await _refused(stack, "/v1/models/half-plus-two/labels/nope:predict", body, 404, "'nope'")
    await _refused(stack, "/v1/models/half-plus-two/versions/x:predict", body, 400, "version")


async def test_model_status(stack: Stack) -> None:
    admin = stack.gateway.admin
    available = {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert (await admin.get("/v1/models/tabular")).json() == available
    assert (await admin.get("/v1/models/tabular/versions/1")).json() == available
    label = (await admin.get(f"/v1/models/half-plus-two/labels/{ALIAS}")).json()
    assert [(s["version"], s["state"]) for s in label["model_version_status"]] == [
        ("1", "AVAILABLE")
    ]
    no_label = await admin.get("/v1/models/half-plus-two/labels/nope")
    assert no_label.status_code == 404 and "'nope'" in no_label.json()["error"]
    missing = await admin.get("/v1/models/tabular/versions/9")
    assert missing.status_code == 404 and "no version '9'" in missing.json()["error"]
    unknown = await admin.get("/v1/models/nope")
    assert unknown.status_code == 404 and "'nope' is not served" in unknown.json()["error"]


async def test_model_metadata(stack: Stack) -> None:
    answer = (await stack.gateway.admin.get("/v1/models/sensors/metadata")).json()
    assert answer["model_spec"] == {"name": "sensors", "signature_name": "", "version": "1"}
    signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["tag"]["dtype"] == "DT_STRING"
    sensor = signature["inputs"]["sensor"]
    assert sensor["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sensor["tensor_shape"]["dim"]] == ["-1", "2", "2"]
    assert set(signature["outputs"]) == {"total", "tag_bytes"}
    versioned = (await stack.gateway.admin.get("/v1/models/sensors/versions/1/metadata")).json()
    assert versioned["model_spec"]["version"] == "1"
    path = f"/v1/models/half-plus-two/labels/{ALIAS}/metadata"
    labelled = (await stack.gateway.admin.get(path)).json()
    assert labelled["model_spec"]["version"] == "1"


async def test_the_routes_are_documented(stack: Stack) -> None:
    paths = (await stack.gateway.client.get("/openapi.json")).json()["paths"]
    predict = paths["/v1/models/{name}:predict"]["post"]
    assert predict["security"] == [{"bearer": ["predict"]}]
    assert (
        "instances" in predict["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    for path in (
        "/v1/models/{name}/versions/{version}:predict",
        "/v1/models/{name}/labels/{label}:predict",
        "/v1/models/{name}",
        "/v1/models/{name}/metadata",
    ):
        assert path in paths


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"instances": [1.0], "inputs": [1.0]}, 400, "not both"),
        ({}, 400, "not both and not neither"),
        ({"instances": []}, 400, "non-empty"),
        ({"instances": [[1.0, 2.0], [3.0]]}, 400, "ragged"),
        ({"instances": [{"x": 1.0}, 2.0]}, 400, "mixes objects"),
        ({"instances": [{"x": 1.0}, {"y": 2.0}]}, 400, "same named inputs"),
        ({"instances": [{"x": {"b64": "###"}}]}, 400, "not valid base64"),
        ({"instances": [{"x": {"nested": 1}}]}, 400, "where a value belongs"),
        ({"signature_name": "classify", "instances": [1.0]}, 400, "signature_name"),
        ({"instances": [[1.0, 2.0]]}, 400, "input 'x'"),  # the predictor's INVALID_ARGUMENT
    ],
)
async def test_bad_input_is_400_with_what_to_fix(
    stack: Stack, body: dict[str, Any], status: int, fragment: str
) -> None:
    await _refused(stack, "/v1/models/half-plus-two:predict", body, status, fragment)


async def test_malformed_json_and_wrong_shapes(stack: Stack) -> None:
    admin = stack.gateway.admin
    broken = await admin.post(
        "/v1/models/half-plus-two:predict",
        content=b'{"instances": [1.0,',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    not_object = await admin.post("/v1/models/half-plus-two:predict", json=[1.0])
    assert not_object.status_code == 400 and "JSON object" in not_object.json()["error"]
    row = {"tag": "a", "signal": [1, 2, 3], "sensor": [[1, 2], [3, 4]]}
    await _refused(stack, "/v1/models/sensors:predict", {"instances": [row]}, 400, "'signal'")
    text = {"tag": "a", "signal": ["a", "b", "c", "d", "e"], "sensor": [[1, 2], [3, 4]]}
    await _refused(stack, "/v1/models/sensors:predict", {"instances": [text]}, 400, "'signal'")


async def test_auth_scope_allow_list_and_project(stack: Stack) -> None:
    body = {"instances": [1.0]}
    path = "/v1/models/half-plus-two:predict"
    assert (await stack.gateway.client.post(path, json=body)).status_code == 401
    reader = stack.gateway.as_token(await stack.token(["read"]))
    denied = await reader.post(path, json=body)
    assert denied.status_code == 403 and "'predict' scope" in denied.json()["error"]
    listed = stack.gateway.as_token(await stack.token(["predict"], models=["tabular"]))
    assert (await listed.post(path, json=body)).status_code == 404
    assert (await listed.get("/v1/models/half-plus-two")).status_code == 404
    member = stack.gateway.as_token(await stack.token(["predict"]))
    assert (await member.post(path, json=body)).json() == {"predictions": [2.5]}
    other = await member.post("/v1/models/elsewhere:predict", json=body)
    unknown = await member.post("/v1/models/nowhere:predict", json=body)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"] == unknown.json()["error"].replace("nowhere", "elsewhere")
    assert (await member.get("/v1/models/elsewhere/metadata")).status_code == 404
    outsider = stack.gateway.as_token(await stack.token(["predict"], stack.other_project))
    assert (await outsider.post("/v1/models/elsewhere:predict", json=body)).status_code == 200


async def test_a_predictor_that_is_down_answers_503_at_once(stack: Stack, tmp_path: Path) -> None:
    settings = gateway_settings(
        tmp_path, registry_address=stack.registry_address, predictor_address=UNUSED_ADDRESS
    )
    async with running_gateway(settings) as gateway:
        started = time.monotonic()
        response = await gateway.admin.post(
            "/v1/models/half-plus-two:predict", json={"instances": [1.0]}
        )
        assert response.status_code == 503, response.text
        assert "retry later" in response.json()["error"]
        assert time.monotonic() - started < 3


class _StalledPredictor(open_inference_pb2_grpc.GRPCInferenceServiceServicer):
    """A predictor that accepts calls and never answers them."""

    async def ModelMetadata(self, request: object, context: object) -> None:  # noqa: N802
        await asyncio.sleep(60)

    async def ModelInfer(self, request: object, context: object) -> None:  # noqa: N802
        await asyncio.sleep(60)


async def test_a_predictor_that_stalls_is_504_at_the_deadline(stack: Stack, tmp_path: Path) -> None:
    server = grpc.aio.server()
    open_inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(_StalledPredictor(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    settings = gateway_settings(
        tmp_path,
        registry_address=stack.registry_address,
        predictor_address=f"127.0.0.1:{port}",
    ).model_copy(update={"gateway_predict_timeout_seconds": 0.5})
    try:
        async with running_gateway(settings) as gateway:
            started = time.monotonic()
            response = await gateway.admin.post(
                "/v1/models/half-plus-two:predict", json={"instances": [1.0]}
            )
            assert response.status_code == 504, response.text
            assert "did not answer in time" in response.json()["error"]
            assert time.monotonic() - started < 3
    finally:
        await server.stop(None)


class _CountingRegistry:
    def __init__(self, code: grpc.StatusCode | None) -> None:
        self.calls = 0
        self.code = code

    async def GetDeployment(self, request: object, metadata: object) -> None:  # noqa: N802
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.code is not None:
            empty = grpc.aio.Metadata()
            raise grpc.aio.AioRpcError(self.code, empty, empty, "no such deployment")


@pytest.mark.parametrize("code", [None, grpc.StatusCode.NOT_FOUND])
async def test_concurrent_lookups_of_one_deployment_share_one_registry_call(
    code: grpc.StatusCode | None,
) -> None:
    registry = _CountingRegistry(code)
    backends: Any = SimpleNamespace(registry=registry)
    targets = PredictTargets()
    principal = Principal("t", "t", "p", frozenset(), (), None)
    results = await asyncio.gather(
        *(targets.check_owner(backends, principal, "p", "m") for _ in range(20)),
        return_exceptions=True,
    )
    assert registry.calls == 1
    if code is None:
        assert results == [None] * 20
        await targets.check_owner(backends, principal, "p", "m")  # cached now
        assert registry.calls == 1
    else:
        assert all(isinstance(r, NotFound) for r in results)
        with pytest.raises(NotFound):  # an unknown deployment is asked again, not remembered
            await targets.check_owner(backends, principal, "p", "m")
        assert registry.calls == 2
