"""gRPC status and the error vocabulary to HTTP (grpc-gateway's table), in one error body.

``/api/v1`` answers ``{"error": {"code", "message", "request_id"}}``; the TF-Serving (``/v1``) and
Open Inference (``/v2``) routes answer ``{"error": "<message>"}`` as their specifications say."""

from __future__ import annotations

import logging
import math
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.errors import AimassError, QuotaExceeded, Unauthenticated
from services.common.logs import request_id_var

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
CODE_FOR_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
}
SPEC_PREFIXES = ("/v1/", "/v2")


def is_spec_route(path: str) -> bool:
    """TF-Serving and Open Inference routes keep their specifications' flat error body."""
    return path.startswith(SPEC_PREFIXES)


def error_response(
    path: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any]
    if is_spec_route(path):
        body = {"error": message}
    else:
        body = {"error": {"code": code, "message": message, "request_id": request_id_var.get()}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(error: AimassError) -> int:
    return HTTP_STATUS.get(error.code, 500)


def _retry_headers(seconds: float | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(max(1, math.ceil(seconds)))}


async def _aimass_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AimassError)
    headers: dict[str, str] = {}
    if isinstance(error, QuotaExceeded):
        headers = _retry_headers(error.retry_after_seconds)
        headers.update(getattr(error, "headers", {}))
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="aimass"'
    return error_response(
        request.url.path, status_of(error), error.code.name, error.message, headers
    )


async def _rpc_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, grpc.aio.AioRpcError)
    code = error.code()
    status = HTTP_STATUS.get(code, 500)
    message = error.details() or code.name.lower()
    headers: dict[str, str] = {}
    if code == grpc.StatusCode.UNAVAILABLE:
        message = f"a backend service is unavailable, retry later ({message})"
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        headers = _retry_headers(1.0)
    elif status >= 500 and code != grpc.StatusCode.DEADLINE_EXCEEDED:
        logger.error("backend call failed: %s %s", code.name, error.details())
    return error_response(request.url.path, status, code.name, message, headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for item in error.errors()[:10]:
        where = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return error_response(request.url.path, 400, "INVALID_ARGUMENT", "; ".join(problems))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = CODE_FOR_STATUS.get(error.status_code, "UNKNOWN")
    headers = dict(error.headers or {})
    return error_response(request.url.path, error.status_code, code, str(error.detail), headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request.url.path, 500, "INTERNAL", "internal error")


ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "The error body of /api/v1.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "example": "INVALID_ARGUMENT"},
                    "message": {"type": "string"},
                    "request_id": {"type": "string"},
                },
                "required": ["code", "message", "request_id"],
            }
        },
        "required": ["error"],
    },
    "SpecError": {
        "type": "object",
        "description": "The error body of the TF Serving and Open Inference routes.",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
}


def document_bad_requests(document: dict[str, Any]) -> None:
    """Where FastAPI lists its 422 validation error, list what the gateway answers: 400 with its
    error body (the handler above turns every validation error into that)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ERROR_SCHEMAS)
    for path, item in document.get("paths", {}).items():
        name = "SpecError" if is_spec_route(path) else "Error"
        for operation in item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not responses or "422" not in responses:
                continue
            del responses["422"]
            responses.setdefault(
                "400",
                {
                    "description": "A parameter or the body is malformed; the message names it.",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                    },
                },
            )
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AimassError, _aimass_error)
    app.add_exception_handler(grpc.aio.AioRpcError, _rpc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
