"""Ask a running service whether it is healthy: grpc.health.v1 Check, or an HTTP readiness path.

Used by docker-compose health checks, the local launcher (``aimass up`` / ``aimass status``) and
people at a terminal::

    python -m services.common.healthcheck 127.0.0.1:50051 [--service NAME] [--timeout S]
    python -m services.common.healthcheck 127.0.0.1:8000 --http /readyz

Exit status 0 when the service is SERVING (HTTP: answers 2xx), 1 otherwise, with the reason.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    # SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNREACHABLE, DEADLINE_EXCEEDED, HTTP_<code>, ...
    status: str
    detail: str = ""

    def describe(self, target: str) -> str:
        return f"{target}: {self.status}" + (f" ({self.detail})" if self.detail else "")


def check_grpc(address: str, service: str = "", timeout: float = 3.0) -> HealthResult:
    """One health Check through a fresh channel, bounded by ``timeout`` seconds."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            if code == grpc.StatusCode.NOT_FOUND:
                return HealthResult(False, "SERVICE_UNKNOWN", f"no health status for {service!r}")
            if code == grpc.StatusCode.UNAVAILABLE:
                return HealthResult(False, "UNREACHABLE", detail or "")
            name = code.name if code is not None else "ERROR"
            return HealthResult(False, name, detail or "")
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return HealthResult(reply.status == health_pb2.HealthCheckResponse.SERVING, status)


def check_http(url: str, timeout: float = 3.0) -> HealthResult:
    """GET ``url``; healthy when it answers 2xx within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            code = int(reply.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return HealthResult(False, f"HTTP_{exc.code}", str(exc.reason))
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return HealthResult(False, "UNREACHABLE", str(reason))
    return HealthResult(200 <= code < 300, "SERVING" if 200 <= code < 300 else f"HTTP_{code}")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.common.healthcheck",
        description="Exit 0 if the service at HOST:PORT reports SERVING, else 1.",
    )
    parser.add_argument("address", metavar="HOST:PORT")
    parser.add_argument(
        "--service", default="", help="health service name (default: the whole server)"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    parser.add_argument(
        "--http", metavar="PATH", help="check http://HOST:PORT/PATH instead of gRPC health"
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.http is not None:
        url = f"http://{args.address}/{args.http.lstrip('/')}"
        result = check_http(url, args.timeout)
        target = url
    else:
        result = check_grpc(args.address, args.service, args.timeout)
        target = args.address + (f" [{args.service}]" if args.service else "")
    stream = sys.stdout if result.healthy else sys.stderr
    stream.write(result.describe(target) + "\n")
    return 0 if result.healthy else 1


if __name__ == "__main__":
    sys.exit(main())
