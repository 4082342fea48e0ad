"""JSON in and out of the prediction routes, with orjson and without pydantic: these routes are
the gateway's hot path. Their bodies are documented in OpenAPI through the schemas here."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from services.common.errors import InvalidArgument

JSON = "application/json"


async def read_body(request: Request) -> bytes:
    """The whole body; a client that left meanwhile ends the request quietly (499, unlogged)."""
    try:
        return await request.body()
    except ClientDisconnect:
        raise HTTPException(499, "the client closed the connection") from None


def parse_json(body: bytes, what: str = "the request body") -> Any:
    if not body:
        raise InvalidArgument(f"{what} is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidArgument(f"{what} is not valid JSON: {error}") from None


def json_object(body: bytes, what: str = "the request body") -> dict[str, Any]:
    value = parse_json(body, what)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def json_response(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type=JSON)


def request_body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body read by hand."""
    content = {JSON: {"schema": schema, "example": example}}
    return {"requestBody": {"required": True, "content": content}}


FLAT_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}


def json_responses(
    schema: dict[str, Any], example: Any, error: dict[str, Any] = FLAT_ERROR
) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {JSON: {"schema": schema, "example": example}}},
        400: {"description": "Bad input", "content": {JSON: {"schema": error}}},
        404: {"description": "Unknown model or version", "content": {JSON: {"schema": error}}},
        503: {"description": "The predictor is unavailable", "content": {JSON: {"schema": error}}},
        504: {"description": "The model did not answer in time"},
    }
