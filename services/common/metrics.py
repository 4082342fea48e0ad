"""Prometheus metrics over HTTP on the gRPC port + 1000 (DESIGN.md §2)."""

from __future__ import annotations

import contextlib
import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

logger = logging.getLogger(__name__)


def start_metrics_server(stack: contextlib.AsyncExitStack, host: str, port: int) -> int:
    """Serve /metrics from a background thread; returns the bound port (useful with port 0)."""
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
    bound = _bound_port(server)

    def shutdown() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    stack.callback(shutdown)
    logger.info("metrics on http://%s:%d/metrics", host, bound)
    return bound


def _bound_port(server: WSGIServer) -> int:
    return int(server.server_address[1])
