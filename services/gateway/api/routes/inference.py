"""The Open Inference Protocol's REST API under /v2 (KServe v2 / Triton), with Triton's binary
tensor data extension. The model name is the deployment's; a version is a model version number or
one of its aliases. Health routes are open; every other route needs the ``predict`` scope."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
import orjson
from fastapi import APIRouter, Path, Request, Response

from aimass.inference.v2 import open_inference_pb2 as oip
from services.gateway.api.deps import PredictPrincipal, backends_of, metadata, quotas_of
from services.gateway.auth import Principal
from services.gateway.predict_http import json_response, json_responses, read_body, request_body
from services.gateway.predict_oip import HEADER_LENGTH, infer_response, parse_infer
from services.gateway.predict_targets import model_call, predictor_error

router = APIRouter(tags=["open-inference"])

ModelName = Annotated[str, Path(description="The deployment's name.", max_length=128)]
Version = Annotated[
    str, Path(description="A model version number or alias.", min_length=1, max_length=128)
]
BINARY_EXTENSION = "binary_tensor_data"
READY_TIMEOUT_SECONDS = 2.0

TENSOR: dict[str, Any] = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string", "examples": ["FP32", "INT64", "BYTES"]},
        "parameters": {"type": "object", "description": "binary_data_size: bytes in the body"},
        "data": {"type": "array", "description": "Row-major values, flat or nested."},
    },
}
INFER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object", "description": "binary_data_output: all outputs binary"},
        "inputs": {"type": "array", "items": TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
            },
        },
    },
}
INFER_EXAMPLE = {
    "inputs": [{"name": "input0", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]
}
INFER_DOC: dict[str, Any] = {
    "response_class": Response,
    "openapi_extra": request_body(INFER_SCHEMA, INFER_EXAMPLE),
    "responses": json_responses(
        {"type": "object", "properties": {"model_name": {}, "outputs": {"type": "array"}}},
        {"model_name": "m", "model_version": "1", "id": "", "outputs": []},
    ),
}
METADATA_DOC: dict[str, Any] = {
    "response_class": Response,
    "responses": json_responses(
        {"type": "object"}, {"name": "m", "versions": ["1"], "platform": "xgboost"}
    ),
}


@router.get("/v2/health/live", summary="The server is live (no token)")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get(
    "/v2/health/ready",
    summary="The predictor is ready (no token): 200, or 400 as the protocol says",
    response_class=Response,
)
async def ready(request: Request) -> Response:
    try:
        answer = await backends_of(request).inference.ServerReady(
            oip.ServerReadyRequest(), timeout=READY_TIMEOUT_SECONDS
        )
        is_ready = bool(answer.ready)
    except grpc.aio.AioRpcError:
        is_ready = False
    return json_response({"ready": is_ready}, 200 if is_ready else 400)


@router.get("/v2", summary="Server metadata", response_class=Response)
async def server_metadata(request: Request, principal: PredictPrincipal) -> Response:
    request.state.rate_headers = await quotas_of(request).admit(principal, model="")
    try:
        backends = backends_of(request)
        answer = await backends.inference.ServerMetadata(
            oip.ServerMetadataRequest(),
            metadata=metadata(principal),
            timeout=backends.predict_timeout,
        )
    except grpc.aio.AioRpcError as error:
        raise predictor_error("(server)", error) from None
    extensions = [*answer.extensions, BINARY_EXTENSION]
    return json_response({"name": answer.name, "version": answer.version, "extensions": extensions})


async def _metadata(request: Request, principal: Principal, name: str, version: str) -> Response:
    async with model_call(request, principal, name, record=False) as call:
        meta = (await call.metadata(version)).meta
    tensors = [
        [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in group]
        for group in (meta.inputs, meta.outputs)
    ]
    body = {
        "name": meta.name,
        "versions": list(meta.versions),
        "platform": meta.platform,
        "inputs": tensors[0],
        "outputs": tensors[1],
    }
    return json_response(body)


@router.get("/v2/models/{name}", summary="Model metadata", **METADATA_DOC)
async def model_metadata(
    name: ModelName, request: Request, principal: PredictPrincipal
) -> Response:
    return await _metadata(request, principal, name, "")


@router.get(
    "/v2/models/{name}/versions/{version}", summary="Model version metadata", **METADATA_DOC
)
async def version_metadata(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _metadata(request, principal, name, version)


async def _ready(request: Request, principal: Principal, name: str, version: str) -> Response:
    async with model_call(request, principal, name, record=False) as call:
        is_ready = await call.ready(version)
    return json_response({"name": name, "ready": is_ready}, 200 if is_ready else 400)


@router.get("/v2/models/{name}/ready", summary="Model readiness: 200, or 400 when not ready")
async def model_ready(name: ModelName, request: Request, principal: PredictPrincipal) -> Response:
    return await _ready(request, principal, name, "")


@router.get(
    "/v2/models/{name}/versions/{version}/ready",
    summary="Model version readiness: 200, or 400 when not ready",
)
async def version_ready(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _ready(request, principal, name, version)


async def _infer(request: Request, principal: Principal, name: str, version: str) -> Response:
    async with model_call(request, principal, name) as call:
        body = await read_body(request)
        parsed = parse_infer(body, request.headers.get(HEADER_LENGTH), name, version)
        answer, chunks = infer_response(await call.infer(parsed.request), parsed)
    header = orjson.dumps(answer)
    if not chunks:
        return Response(header, media_type="application/json")
    return Response(
        b"".join([header, *chunks]),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


@router.post("/v2/models/{name}/infer", summary="Inference (JSON or binary tensors)", **INFER_DOC)
async def infer(name: ModelName, request: Request, principal: PredictPrincipal) -> Response:
    return await _infer(request, principal, name, "")


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    summary="Inference on a model version (JSON or binary tensors)",
    **INFER_DOC,
)
async def infer_version(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _infer(request, principal, name, version)
