"""Small REST helpers shared by resource routes: list pages from query parameters, enum values
from query strings, the update mask a PATCH body implies, and a backend's server stream as
Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

from aimass.common.v1 import common_pb2
from services.common.errors import InvalidArgument
from services.common.logs import request_id_var
from services.gateway.protojson import to_json

M = TypeVar("M", bound=Message)

# A watch lasts as long as what it follows: its deadline only bounds a stream nobody ended.
WATCH_DEADLINE_SECONDS = 7 * 24 * 3600.0
KEEPALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

PageSize = Annotated[
    int, Query(ge=0, le=1000, description="Items per page, 1..1000; 0: the default of 100.")
]
PageToken = Annotated[
    str,
    Query(max_length=4096, description="`page.next_page_token` of the previous page, unchanged."),
]


def page_request(page_size: PageSize = 0, page_token: PageToken = "") -> common_pb2.PageRequest:
    """The PageRequest of a list route's ``?page_size=&page_token=`` (also a dependency)."""
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token)


PageQuery = Annotated[common_pb2.PageRequest, Depends(page_request)]


def enum_name(enum: EnumDescriptor, prefix: str, text: str, what: str) -> str:
    """The name of the value of ``enum`` that ``text`` names: its full name
    (``TASK_TYPE_REGRESSION``) or the part after ``prefix`` in any case (``regression``). Empty
    text names the UNSPECIFIED value."""
    if not text:
        return str(enum.values_by_number[0].name)
    wanted = text.strip().upper().replace("-", "_")
    for value in enum.values:
        if value.number and wanted in (value.name, value.name.removeprefix(prefix)):
            return str(value.name)
    names = [v.name.removeprefix(prefix).lower() for v in enum.values if v.number]
    raise InvalidArgument(f"unknown {what} {text!r}; use one of {', '.join(names)}")


def implied_mask(request: Message, fields_to_mask: Mapping[str, str]) -> list[str]:
    """The update mask a PATCH body without one implies (as grpc-gateway does): the entry of each
    field of ``fields_to_mask`` the body sets. Clearing a field needs an explicit mask."""
    set_fields = {field.name for field, _ in request.ListFields()}
    return sorted({entry for name, entry in fields_to_mask.items() if name in set_fields})


def sse_responses(event: str, message: str, final: str) -> dict[int | str, Any]:
    """``responses`` (OpenAPI) of a route answering :func:`sse_stream`."""
    description = (
        f"`event: {event}` with a {message} as `data` (proto3 JSON), until {final}; "
        f"`event: error` with the error body if the backend fails mid-stream; `: keep-alive` "
        f"comments every {KEEPALIVE_SECONDS:g} s in between."
    )
    content = {"text/event-stream": {"schema": {"type": "string"}}}
    return {200: {"description": description, "content": content}}


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _error_event(error: grpc.aio.AioRpcError) -> bytes:
    code = error.code()
    body = {
        "code": code.name,
        "message": error.details() or code.name.lower(),
        "request_id": request_id_var.get(),
    }
    return sse_event("error", {"error": body})


def _cancel(source: AsyncIterable[Any]) -> None:
    cancel = getattr(source, "cancel", None)
    if callable(cancel):
        cancel()


async def sse_stream(
    source: AsyncIterable[M],
    is_final: Callable[[M], bool],
    *,
    event: str = "update",
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> StreamingResponse:
    """``source`` (a gRPC server-streaming call) as Server-Sent Events, one per message, ending
    after the first message ``is_final`` accepts or when the backend ends the stream.

    The first message is awaited before answering, so an unknown id or a backend that is down is
    an HTTP error status rather than an event. The call is cancelled when the client leaves."""
    messages = aiter(source)
    try:
        first = await anext(messages, None)
    except BaseException:
        _cancel(source)
        raise

    async def frames() -> AsyncIterator[bytes]:
        message = first
        pending: asyncio.Task[M | None] | None = None
        try:
            while message is not None:
                yield sse_event(event, to_json(message))
                if is_final(message):
                    return
                pending = asyncio.ensure_future(anext(messages, None))
                while not (await asyncio.wait({pending}, timeout=keepalive_seconds))[0]:
                    yield b": keep-alive\n\n"
                message, pending = pending.result(), None
        except grpc.aio.AioRpcError as error:
            yield _error_event(error)
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                    await pending
            _cancel(source)

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)
