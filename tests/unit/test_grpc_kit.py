"""The gRPC kit on a real server: errors become status codes with their message, unexpected errors
hide their internals, request ids cross the wire, and every client call gets a deadline."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.errors import FailedPrecondition, NotFound, QuotaExceeded
from services.common.grpc.client import create_channel
from services.common.grpc.server import RunningServer, start_grpc_server
from services.common.logs import REQUEST_ID_HEADER, request_id_var

SERVICE = "test.Probe"


async def echo_request_id(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    metadata = dict(context.invocation_metadata() or ())
    remaining = context.time_remaining()
    return f"{metadata.get(REQUEST_ID_HEADER, '')}|{request_id_var.get()}|{remaining}".encode()


async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    kind = request.decode()
    if kind == "missing":
        raise NotFound("model 'm' does not exist; check the name")
    if kind == "precondition":
        raise FailedPrecondition("run is finished; it cannot move to running")
    if kind == "quota":
        raise QuotaExceeded("too many requests", retry_after_seconds=3)
    raise RuntimeError("secret database password in a traceback")


async def stream_then_fail(
    request: bytes, context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    yield b"one"
    raise NotFound("the rest is gone")


def register(server: grpc.aio.Server) -> None:
    identity = bytes
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo_request_id, identity, identity),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, identity, identity),
        "Stream": grpc.unary_stream_rpc_method_handler(stream_then_fail, identity, identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
async def probe_server() -> AsyncIterator[RunningServer]:
    async with contextlib.AsyncExitStack() as stack:
        running = await start_grpc_server(
            stack,
            host="127.0.0.1",
            port=0,
            register=register,
            service_names=[SERVICE],
            grace_seconds=0.5,
        )
        yield running


async def call(channel: grpc.aio.Channel, method: str, payload: bytes, **kwargs: object) -> bytes:
    stub = channel.unary_unary(f"/{SERVICE}/{method}")
    return await stub(payload, **kwargs)  # type: ignore[no-any-return]


async def test_request_id_and_default_deadline_travel(probe_server: RunningServer) -> None:
    async with create_channel(probe_server.address, default_timeout=7) as channel:
        token = request_id_var.set("req-123")
        try:
            sent, bound, remaining = (await call(channel, "Echo", b"")).decode().split("|")
        finally:
            request_id_var.reset(token)
        assert sent == "req-123" and bound == "req-123"
        assert 0 < float(remaining) <= 7
        _, fresh, _ = (await call(channel, "Echo", b"")).decode().split("|")
        assert fresh not in ("", "-", "req-123"), "the server makes an id when none came"


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("missing", grpc.StatusCode.NOT_FOUND, "model 'm' does not exist; check the name"),
        ("precondition", grpc.StatusCode.FAILED_PRECONDITION, "run is finished"),
        ("quota", grpc.StatusCode.RESOURCE_EXHAUSTED, "too many requests"),
        ("boom", grpc.StatusCode.INTERNAL, "internal error"),
    ],
)
async def test_errors_map_to_status_codes(
    probe_server: RunningServer, kind: str, code: grpc.StatusCode, message: str
) -> None:
    async with create_channel(probe_server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(channel, "Fail", kind.encode())
    assert error.value.code() == code
    assert message in (error.value.details() or "")
    assert "secret" not in (error.value.details() or "")
    if kind == "quota":
        assert ("retry-after", "3") in tuple(error.value.trailing_metadata() or ())


async def test_streaming_errors_map_too(probe_server: RunningServer) -> None:
    async with create_channel(probe_server.address) as channel:
        stream = channel.unary_stream(f"/{SERVICE}/Stream")(b"")
        assert await stream.read() == b"one"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stream.read()
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_serves_and_stop_sets_not_serving() -> None:
    async with contextlib.AsyncExitStack() as stack:
        running = await start_grpc_server(
            stack,
            host="127.0.0.1",
            port=0,
            register=register,
            service_names=[SERVICE],
            grace_seconds=0.5,
        )
        async with create_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            await running.set_serving(False)
            reply = await health.Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_a_taken_port_is_refused(probe_server: RunningServer) -> None:
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(OSError, match="another process"):
            await start_grpc_server(
                stack,
                host="127.0.0.1",
                port=probe_server.port,
                register=register,
                service_names=[SERVICE],
                grace_seconds=0.5,
            )
