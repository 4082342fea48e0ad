"""The Open Inference Protocol's REST API through the gateway, on a real registry and predictor:
health, server and model metadata, readiness, JSON tensors, Triton's binary tensor extension,
output selection, auth and bad input."""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.gateway.gateway_fixtures import UNUSED_ADDRESS, gateway_settings, running_gateway
from tests.gateway.predict_fixtures import ALIAS, Stack, prediction_stack

pytestmark = pytest.mark.integration

HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with prediction_stack(tmp_path_factory.mktemp("gw-oip")) as running:
        yield running


def _binary_body(header: dict[str, Any], *chunks: bytes) -> tuple[bytes, dict[str, str]]:
    encoded = json.dumps(header).encode()
    headers = {HEADER: str(len(encoded)), "content-type": "application/octet-stream"}
    return encoded + b"".join(chunks), headers


def _split(body: bytes, header_length: str) -> tuple[dict[str, Any], bytes]:
    size = int(header_length)
    return json.loads(body[:size]), body[size:]


def _strings(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


async def test_health_is_open_and_server_metadata_needs_a_token(stack: Stack) -> None:
    client = stack.gateway.client
    assert (await client.get("/v2/health/live")).json() == {"live": True}
    ready = await client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert (await client.get("/v2")).status_code == 401
    server = (await stack.gateway.admin.get("/v2")).json()
    assert server["name"] == "aimass-predictor"
    assert "binary_tensor_data" in server["extensions"]


async def test_model_metadata_and_readiness(stack: Stack) -> None:
    admin = stack.gateway.admin
    meta = (await admin.get("/v2/models/sensors")).json()
    assert meta["name"] == "sensors" and meta["versions"] == ["1"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][1] == {"name": "signal", "datatype": "FP32", "shape": [-1, 5]}
    assert [o["name"] for o in meta["outputs"]] == ["total", "tag_bytes"]
    assert (await admin.get("/v2/models/sensors/versions/1")).json() == meta
    assert (await admin.get("/v2/models/sensors/ready")).json() == {
        "name": "sensors",
        "ready": True,
    }
    alias = await admin.get(f"/v2/models/half-plus-two/versions/{ALIAS}/ready")
    assert alias.status_code == 200 and alias.json()["ready"] is True
    unready = await admin.get("/v2/models/half-plus-two/versions/5/ready")
    assert unready.status_code == 400 and unready.json()["ready"] is False
    unknown = await admin.get("/v2/models/nope")
    assert unknown.status_code == 404 and "'nope' is not served" in unknown.json()["error"]
    version = await admin.get("/v2/models/sensors/versions/3")
    assert version.status_code == 404 and "no version '3'" in version.json()["error"]


async def test_json_tensors_with_an_id_and_a_version_alias(stack: Stack) -> None:
    body = {
        "id": "42",
        "inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0, 5.0]}],
    }
    path = f"/v2/models/half-plus-two/versions/{ALIAS}/infer"
    response = await stack.gateway.admin.post(path, json=body)
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["model_name"] == "half-plus-two" and answer["model_version"] == "1"
    assert answer["id"] == "42" and answer["parameters"]["prediction_id"]
    assert answer["outputs"] == [
        {"name": "y", "datatype": "FP32", "shape": [3], "data": [2.5, 3.0, 4.5]}
    ]


async def test_the_sensors_example_with_text_and_nested_data(stack: Stack) -> None:
    body = {
        "inputs": [
            {"name": "tag", "shape": [2], "datatype": "BYTES", "data": ["foo", "bar"]},
            {
                "name": "signal",
                "shape": [2, 5],
                "datatype": "FP32",
                "data": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
            },
            {
                "name": "sensor",
                "shape": [2, 2, 2],
                "datatype": "FP32",
                "data": [1, 2, 3, 4, 4, 5, 6, 8],
            },
        ],
        "outputs": [{"name": "total"}],
    }
    answer = (await stack.gateway.admin.post("/v2/models/sensors/infer", json=body)).json()
    assert answer["outputs"] == [
        {"name": "total", "datatype": "FP32", "shape": [2], "data": [25.0, 38.0]}
    ]


async def test_trainer_model_per_column_tensors_match_the_model(stack: Stack) -> None:
    labels, probabilities = stack.expected(stack.rows)
    rows = len(stack.rows)
    body = {
        "inputs": [
            {"name": "x", "shape": [rows], "datatype": "FP64", "data": stack.rows["x"].tolist()},
            {"name": "n", "shape": [rows], "datatype": "INT64", "data": stack.rows["n"].tolist()},
            {
                "name": "color",
                "shape": [rows],
                "datatype": "BYTES",
                "data": stack.rows["color"].tolist(),
            },
        ]
    }
    answer = (await stack.gateway.admin.post("/v2/models/tabular/infer", json=body)).json()
    outputs = {output["name"]: output for output in answer["outputs"]}
    assert outputs["predictions"]["data"] == labels
    assert outputs["probabilities"]["shape"] == [rows, 2]
    np.testing.assert_allclose(outputs["probabilities"]["data"], np.ravel(probabilities), rtol=1e-6)


async def test_binary_inputs_and_outputs(stack: Stack) -> None:
    values = np.array([1.0, 2.0, 5.0], dtype="<f4")
    header = {
        "inputs": [
            {"name": "x", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}
        ],
        "outputs": [{"name": "y", "parameters": {"binary_data": True}}],
    }
    content, headers = _binary_body(header, values.tobytes())
    response = await stack.gateway.admin.post(
        "/v2/models/half-plus-two/infer", content=content, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    answer, binary = _split(response.content, response.headers[HEADER])
    assert answer["outputs"] == [
        {"name": "y", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 12}}
    ]
    assert np.frombuffer(binary, dtype="<f4").tolist() == [2.5, 3.0, 4.5]


async def test_binary_text_mixed_with_json_and_every_output_binary(stack: Stack) -> None:
    signal = np.array([[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], dtype="<f4")
    tags = _strings(b"foo", b"bar")
    header = {
        "parameters": {"binary_data_output": True},
        "inputs": [
            {
                "name": "tag",
                "shape": [2],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(tags)},
            },
            {
                "name": "signal",
                "shape": [2, 5],
                "datatype": "FP32",
                "parameters": {"binary_data_size": 40},
            },
            {
                "name": "sensor",
                "shape": [2, 2, 2],
                "datatype": "FP32",
                "data": [1, 2, 3, 4, 4, 5, 6, 8],
            },
        ],
    }
    content, headers = _binary_body(header, tags, signal.tobytes())
    response = await stack.gateway.admin.post(
        "/v2/models/sensors/infer", content=content, headers=headers
    )
    assert response.status_code == 200, response.text
    answer, binary = _split(response.content, response.headers[HEADER])
    sizes = [output["parameters"]["binary_data_size"] for output in answer["outputs"]]
    assert [output["name"] for output in answer["outputs"]] == ["total", "tag_bytes"]
    assert "data" not in answer["outputs"][0] and sizes == [8, len(tags)]
    assert np.frombuffer(binary[:8], dtype="<f4").tolist() == [25.0, 38.0]
    assert binary[8:] == tags


@pytest.mark.parametrize(
    ("tensor", "fragment"),
    [
        ({"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2, 3]}, "needs 2"),
        ({"name": "x", "shape": [2], "datatype": "FLOAT", "data": [1, 2]}, "datatype 'FLOAT'"),
        ({"name": "x", "shape": [2], "datatype": "INT64", "data": [1.5, 2]}, "non-integer"),
        ({"name": "x", "shape": [2], "datatype": "FP32", "data": ["a", "b"]}, "holds text"),
        ({"name": "x", "shape": [2], "datatype": "FP32", "data": [[1], [2, 3]]}, "ragged"),
        ({"name": "x", "shape": [2], "datatype": "FP32"}, "no data"),
        ({"name": "x", "shape": "2", "datatype": "FP32", "data": [1, 2]}, "needs a shape"),
        ({"shape": [2], "datatype": "FP32", "data": [1, 2]}, "no name"),
        ({"name": "x", "shape": [2], "datatype": "INT8", "data": [1, 300]}, "INT8's range"),
        ({"name": "z", "shape": [2], "datatype": "FP32", "data": [1, 2]}, "'x'"),  # predictor's
        ({"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}, "shape [1, 2]"),
    ],
)
async def test_bad_json_tensors_are_400(
    stack: Stack, tensor: dict[str, Any], fragment: str
) -> None:
    response = await stack.gateway.admin.post(
        "/v2/models/half-plus-two/infer", json={"inputs": [tensor]}
    )
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


@pytest.mark.parametrize(
    ("header_length", "size", "extra", "fragment"),
    [
        ("x", 12, b"", "Inference-Header-Content-Length"),
        ("99999", 12, b"", "Inference-Header-Content-Length"),
        (None, 8, b"", "needs 12 bytes"),
        (None, 12, b"\x00" * 4, "add up to 12"),
        (None, 12, b"", ""),
    ],
)
async def test_bad_binary_requests_are_400(
    stack: Stack, header_length: str | None, size: int, extra: bytes, fragment: str
) -> None:
    header = {
        "inputs": [
            {
                "name": "x",
                "shape": [3],
                "datatype": "FP32",
                "parameters": {"binary_data_size": size},
            }
        ]
    }
    content, headers = _binary_body(header, np.zeros(size // 4, "<f4").tobytes() + extra)
    if header_length is not None:
        headers[HEADER] = header_length
    response = await stack.gateway.admin.post(
        "/v2/models/half-plus-two/infer", content=content, headers=headers
    )
    if not fragment:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


async def test_malformed_and_unknown_outputs(stack: Stack) -> None:
    admin = stack.gateway.admin
    broken = await admin.post(
        "/v2/models/half-plus-two/infer", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    empty = await admin.post("/v2/models/half-plus-two/infer", json={"inputs": []})
    assert empty.status_code == 400 and "non-empty" in empty.json()["error"]
    body = {
        "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
        "outputs": [{"name": "nope"}],
    }
    unknown = await admin.post("/v2/models/half-plus-two/infer", json=body)
    assert unknown.status_code == 400 and "no output 'nope'" in unknown.json()["error"]


async def test_auth_on_the_model_routes(stack: Stack) -> None:
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}
    path = "/v2/models/half-plus-two/infer"
    assert (await stack.gateway.client.post(path, json=body)).status_code == 401
    assert (await stack.gateway.client.get("/v2/models/half-plus-two")).status_code == 401
    reader = stack.gateway.as_token(await stack.token(["read"]))
    assert (await reader.post(path, json=body)).status_code == 403
    listed = stack.gateway.as_token(await stack.token(["predict"], models=["sensors"]))
    assert (await listed.post(path, json=body)).status_code == 404
    assert (await listed.get("/v2/models/half-plus-two/ready")).status_code == 404
    member = stack.gateway.as_token(await stack.token(["predict"]))
    assert (await member.post(path, json=body)).status_code == 200
    other = await member.post("/v2/models/elsewhere/infer", json=body)
    assert other.status_code == 404 and other.json() == {"error": "model 'elsewhere' is not served"}
    assert (await member.get("/v2/models/elsewhere")).status_code == 404


async def test_a_predictor_that_is_down(stack: Stack, tmp_path: Path) -> None:
    settings = gateway_settings(
        tmp_path, registry_address=stack.registry_address, predictor_address=UNUSED_ADDRESS
    )
    async with running_gateway(settings) as gateway:
        ready = await gateway.client.get("/v2/health/ready")
        assert ready.status_code == 400 and ready.json() == {"ready": False}
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}
        response = await gateway.admin.post("/v2/models/half-plus-two/infer", json=body)
        assert response.status_code == 503 and "retry later" in response.json()["error"]
