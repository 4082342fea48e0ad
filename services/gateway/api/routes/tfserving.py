"""TensorFlow Serving's REST API under /v1/models: predict, model status and model metadata.
The model name is the deployment's; a version is a model version number and a label one of its
aliases. Errors answer ``{"error": "<message>"}`` as TF Serving does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from services.gateway.api.deps import PredictPrincipal
from services.gateway.auth import Principal
from services.gateway.predict_http import (
    json_object,
    json_response,
    json_responses,
    read_body,
    request_body,
)
from services.gateway.predict_targets import model_call
from services.gateway.predict_tensors import output_arrays
from services.gateway.predict_tf import infer_request, metadata_body, predict_body, status_body

router = APIRouter(tags=["tensorflow-serving"])

ModelName = Annotated[str, Path(description="The deployment's name.", max_length=128)]
Version = Annotated[int, Path(description="A model version number.", ge=1)]
Label = Annotated[str, Path(description="An alias of a model version.", max_length=128)]

_VALUES: dict[str, Any] = {
    "description": 'Values, or nested lists of values; text as strings, bytes as {"b64": "..."}'
}
PREDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "signature_name": {"type": "string", "enum": ["", "serving_default"]},
        "instances": {
            "type": "array",
            "description": "Row format: one entry per row, a value (one input) or an object "
            "keyed by input name.",
            "items": _VALUES,
        },
        "inputs": {
            "description": "Columnar format: the values of the one input, or an object of "
            "input name -> values (rows first).",
        },
    },
}
PREDICT_EXAMPLE = {"instances": [{"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2]]}]}
PREDICTED = {
    "type": "object",
    "properties": {"predictions": {"type": "array"}, "outputs": {}},
    "description": '"predictions" for the row format, "outputs" for the columnar one',
}
STATUS = {"type": "object", "properties": {"model_version_status": {"type": "array"}}}
METADATA = {"type": "object", "properties": {"model_spec": {}, "metadata": {}}}
PREDICT_DOC: dict[str, Any] = {
    "response_class": Response,
    "openapi_extra": request_body(PREDICT_SCHEMA, PREDICT_EXAMPLE),
    "responses": json_responses(PREDICTED, {"predictions": [3.5, 4.0]}),
}
STATUS_DOC: dict[str, Any] = {
    "response_class": Response,
    "responses": json_responses(
        STATUS,
        {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {}}]},
    ),
}
METADATA_DOC: dict[str, Any] = {
    "response_class": Response,
    "responses": json_responses(METADATA, {"model_spec": {"name": "m", "version": "1"}}),
}


async def _predict(request: Request, principal: Principal, name: str, version: str) -> Response:
    async with model_call(request, principal, name) as call:
        body = json_object(await read_body(request))
        info = await call.metadata(version)
        infer, rows = infer_request(body, info.inputs, name, version)
        response = await call.infer(infer)
        return json_response(predict_body(output_arrays(response), rows))


@router.post("/v1/models/{name}:predict", summary="Predict (TF Serving REST)", **PREDICT_DOC)
async def predict(name: ModelName, request: Request, principal: PredictPrincipal) -> Response:
    return await _predict(request, principal, name, "")


@router.post(
    "/v1/models/{name}/versions/{version}:predict",
    summary="Predict with a model version (TF Serving REST)",
    **PREDICT_DOC,
)
async def predict_version(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _predict(request, principal, name, str(version))


@router.post(
    "/v1/models/{name}/labels/{label}:predict",
    summary="Predict with the model version an alias names (TF Serving REST)",
    **PREDICT_DOC,
)
async def predict_label(
    name: ModelName, label: Label, request: Request, principal: PredictPrincipal
) -> Response:
    return await _predict(request, principal, name, label)


async def _status(
    request: Request, principal: Principal, name: str, version: str, label: str = ""
) -> Response:
    """GetModelStatus: every loaded version, the one asked for, or the one ``label`` names
    (reported by its number, as TF Serving does)."""
    async with model_call(request, principal, name, record=False) as call:
        if label:
            version = await call.label_version(label)
        meta = (await call.metadata(version)).meta
        versions = [version] if version else list(meta.versions)
        states = [(v, await call.ready(v)) for v in versions]
        return json_response(status_body(states))


@router.get("/v1/models/{name}", summary="Status of the served versions", **STATUS_DOC)
async def model_status(name: ModelName, request: Request, principal: PredictPrincipal) -> Response:
    return await _status(request, principal, name, "")


@router.get(
    "/v1/models/{name}/versions/{version}", summary="Status of one model version", **STATUS_DOC
)
async def version_status(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _status(request, principal, name, str(version))


@router.get(
    "/v1/models/{name}/labels/{label}",
    summary="Status of the version an alias names",
    **STATUS_DOC,
)
async def label_status(
    name: ModelName, label: Label, request: Request, principal: PredictPrincipal
) -> Response:
    return await _status(request, principal, name, "", label)


async def _metadata(
    request: Request, principal: Principal, name: str, version: str, label: str = ""
) -> Response:
    async with model_call(request, principal, name, record=False) as call:
        if label:
            version = await call.label_version(label)
        return json_response(metadata_body((await call.metadata(version)).meta, version))


@router.get("/v1/models/{name}/metadata", summary="Signature of the model", **METADATA_DOC)
async def model_metadata(
    name: ModelName, request: Request, principal: PredictPrincipal
) -> Response:
    return await _metadata(request, principal, name, "")


@router.get(
    "/v1/models/{name}/versions/{version}/metadata",
    summary="Signature of a model version",
    **METADATA_DOC,
)
async def version_metadata(
    name: ModelName, version: Version, request: Request, principal: PredictPrincipal
) -> Response:
    return await _metadata(request, principal, name, str(version))


@router.get(
    "/v1/models/{name}/labels/{label}/metadata",
    summary="Signature of the version an alias names",
    **METADATA_DOC,
)
async def label_metadata(
    name: ModelName, label: Label, request: Request, principal: PredictPrincipal
) -> Response:
    return await _metadata(request, principal, name, "", label)
