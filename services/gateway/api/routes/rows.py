"""POST /api/v1/projects/{project}/deployments/{name}/predict: rows of column -> value in, each
output under its name out (rows first), with the version that answered and the prediction id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from services.gateway.api.deps import PredictPrincipal, ProjectPath
from services.gateway.predict_http import (
    json_object,
    json_response,
    json_responses,
    read_body,
    request_body,
)
from services.gateway.predict_rows import infer_request, response_body
from services.gateway.predict_targets import model_call
from services.gateway.predict_tensors import output_arrays

router = APIRouter(prefix="/api/v1", tags=["prediction"])

DeploymentName = Annotated[str, Path(description="The deployment's name.", max_length=128)]

ROWS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["rows"],
    "properties": {
        "rows": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "One object per row: column -> number, text, true/false or null "
            "(missing).",
        },
        "version": {
            "type": ["string", "integer"],
            "description": "A version number or alias; default the deployment's current one.",
        },
        "outputs": {"type": "array", "items": {"type": "string"}},
    },
}
ROWS_EXAMPLE = {"rows": [{"age": 41, "plan": "pro", "monthly_fee": 29.5, "churned_before": None}]}
PREDICTED = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "model_version": {"type": "string"},
        "prediction_id": {"type": "string"},
        "predictions": {"type": "array"},
        "probabilities": {"type": "array", "items": {"type": "array"}},
    },
    "additionalProperties": {"type": "array", "description": "Any other output, rows first."},
}
PREDICTED_EXAMPLE = {
    "model": "churn",
    "model_version": "3",
    "prediction_id": "0b3c...",
    "predictions": ["no"],
    "probabilities": [[0.83, 0.17]],
}
API_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {c: {"type": "string"} for c in ("code", "message", "request_id")},
        }
    },
}


@router.post(
    "/projects/{project}/deployments/{name}/predict",
    summary="Predict rows of column -> value with a deployment",
    response_class=Response,
    openapi_extra=request_body(ROWS_SCHEMA, ROWS_EXAMPLE),
    responses=json_responses(PREDICTED, PREDICTED_EXAMPLE, API_ERROR),
)
async def predict_rows(
    project: ProjectPath, name: DeploymentName, request: Request, principal: PredictPrincipal
) -> Response:
    principal.check_project(project)
    async with model_call(request, principal, name, project) as call:
        infer = infer_request(json_object(await read_body(request)), name)
        response = await call.infer(infer)
        return json_response(response_body(response, output_arrays(response)))
