"""Pure ASGI middleware: request ids, the request-size limit, RateLimit-* headers, metrics."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logs import REQUEST_ID_HEADER, new_request_id, request_id_var
from services.gateway.errors import CODE_FOR_STATUS, is_spec_route

REQUESTS = Counter(
    "aimass_gateway_requests_total", "HTTP requests answered.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "aimass_gateway_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Routes whose body is streamed to a backend, never held whole: the size limit does not apply.
STREAMED_BODY = re.compile(r"^/api/v1/projects/[^/]+/uploads/?$")


class BodyTooLarge(HTTPException):
    """Raised while a body streams in; an HTTPException so that FastAPI's body parsing lets it
    through (it turns other exceptions into 400) and the error handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit, limit + 1))


def too_large_message(limit: int, size: int) -> str:
    return (
        f"the request body ({size} bytes or more) is over the limit of {limit} bytes; send "
        "less per request (or upload files to /api/v1/projects/<project>/uploads, which streams)"
    )


def _error_body(path: str, status: int, message: str, request_id: str) -> bytes:
    if is_spec_route(path):
        return json.dumps({"error": message}).encode()
    code = CODE_FOR_STATUS.get(status, "UNKNOWN")
    return json.dumps(
        {"error": {"code": code, "message": message, "request_id": request_id}}
    ).encode()


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        request_id = request_id or new_request_id()
        token = request_id_var.set(request_id)
        path: str = scope["path"]
        started = time.perf_counter()
        status_holder = [500]
        state = scope.setdefault("state", {})
        limited = not STREAMED_BODY.match(path)
        try:
            if limited and length is not None and length > self.max_body_bytes:
                await self._reject(send, path, request_id, length)
                status_holder[0] = 413
                return
            counted = 0

            async def receive_limited() -> Message:
                nonlocal counted
                message = await receive()
                if limited and message["type"] == "http.request":
                    counted += len(message.get("body", b""))
                    if counted > self.max_body_bytes:
                        raise BodyTooLarge(self.max_body_bytes)
                return message

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder[0] = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                    for key, value in (state.get("rate_headers") or {}).items():
                        headers.append((key.encode(), str(value).encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive_limited, send_with_headers)
            except BodyTooLarge:
                status_holder[0] = 413
                await self._reject(send, path, request_id, counted)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(template, scope["method"], str(status_holder[0])).inc()
            LATENCY.labels(template, scope["method"]).observe(elapsed)
            request_id_var.reset(token)

    async def _reject(self, send: Send, path: str, request_id: str, size: int) -> None:
        body = _error_body(path, 413, too_large_message(self.max_body_bytes, size), request_id)
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ]
        start: dict[str, Any] = {"type": "http.response.start", "status": 413, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})
