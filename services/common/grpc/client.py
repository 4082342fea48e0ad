"""Client channels for service-to-service calls: the caller's request id travels along, and every
call has a deadline (the default one when the caller gave none)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from services.common.grpc.server import MAX_MESSAGE_BYTES
from services.common.logs import REQUEST_ID_HEADER, request_id_var

DEFAULT_DEADLINE_SECONDS = 30.0

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 60_000),
)


def _details(details: grpc.aio.ClientCallDetails, default_timeout: float) -> Any:
    metadata = list(details.metadata or ())
    request_id = request_id_var.get()
    if request_id != "-" and not any(item[0] == REQUEST_ID_HEADER for item in metadata):
        metadata.append((REQUEST_ID_HEADER, request_id))
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else default_timeout,
        metadata=grpc.aio.Metadata(*metadata),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class ContextClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    def __init__(self, default_timeout: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self.default_timeout = default_timeout

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(_details(client_call_details, self.default_timeout), request)

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(_details(client_call_details, self.default_timeout), request)

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        details = _details(client_call_details, self.default_timeout)
        return await continuation(details, request_iterator)

    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        details = _details(client_call_details, self.default_timeout)
        return await continuation(details, request_iterator)


def create_channel(
    address: str,
    *,
    default_timeout: float = DEFAULT_DEADLINE_SECONDS,
    options: Sequence[tuple[str, Any]] = (),
    intercepted: bool = True,
) -> grpc.aio.Channel:
    """An insecure channel (inside the cluster) that forwards x-request-id and sets deadlines;
    not ``intercepted``, it does neither and every call must pass its own."""
    interceptors = (ContextClientInterceptor(default_timeout),) if intercepted else ()
    return grpc.aio.insecure_channel(
        address, options=(*CHANNEL_OPTIONS, *options), interceptors=interceptors
    )
