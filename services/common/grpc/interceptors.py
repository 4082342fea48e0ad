"""One server interceptor: request ids in, error vocabulary out, metrics on every call.

Servicers never catch exceptions. An :class:`AimassError` becomes its gRPC status with its
message; anything else is logged once with its traceback and becomes INTERNAL "internal error", so
no internals leak to callers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from services.common.errors import AimassError, QuotaExceeded
from services.common.logs import ACTOR_HEADER, REQUEST_ID_HEADER, new_request_id, request_id_var

logger = logging.getLogger(__name__)

ANONYMOUS_ACTOR = "anonymous"

RPC_HANDLED = Counter(
    "aimass_grpc_server_handled_total",
    "RPCs completed, by method and status code.",
    ["grpc_method", "grpc_code"],
)
RPC_LATENCY = Histogram(
    "aimass_grpc_server_handling_seconds",
    "Time spent handling an RPC.",
    ["grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None


def actor_of(context: grpc.aio.ServicerContext) -> str:
    """Who is calling: the gateway sets x-aimass-actor; internal callers may too."""
    return _metadata_value(context, ACTOR_HEADER) or ANONYMOUS_ACTOR


async def _abort_for(exc: BaseException, method: str, context: grpc.aio.ServicerContext) -> None:
    if isinstance(exc, AimassError):
        if isinstance(exc, QuotaExceeded) and exc.retry_after_seconds is not None:
            context.set_trailing_metadata((("retry-after", str(int(exc.retry_after_seconds))),))
        await context.abort(exc.code, exc.message)
    logger.exception("unhandled error in %s", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _code_name(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if code is None:
        return "OK"
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


class _CallScope:
    """Binds the request id for the call and records metrics when it ends."""

    def __init__(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.started = time.perf_counter()
        request_id = _metadata_value(context, REQUEST_ID_HEADER) or new_request_id()
        self.token = request_id_var.set(request_id)

    def close(self) -> None:
        RPC_LATENCY.labels(self.method).observe(time.perf_counter() - self.started)
        RPC_HANDLED.labels(self.method, _code_name(self.context)).inc()
        request_id_var.reset(self.token)


def _wrap_unary(method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    async def handler(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        scope = _CallScope(method, context)
        try:
            return await behavior(request_or_iterator, context)
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            await _abort_for(exc, method, context)
        finally:
            scope.close()

    return handler


def _wrap_streaming(method: str, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
    async def handler(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        scope = _CallScope(method, context)
        try:
            async for response in behavior(request_or_iterator, context):
                yield response
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            await _abort_for(exc, method, context)
        finally:
            scope.close()

    return handler


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if method.startswith("/grpc.health.") or method.startswith("/grpc.reflection."):
            return handler
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, handler.unary_unary), **kwargs
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(method, handler.stream_unary), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_streaming(method, handler.unary_stream), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            _wrap_streaming(method, handler.stream_stream), **kwargs
        )
