"""A stand-in service for the launcher's tests: grpc.health.v1 SERVING on $AIMASS_FAKE_PORT.

$AIMASS_FAKE_EXIT_AFTER=S makes it crash (exit 3) after S seconds; $AIMASS_FAKE_NOT_SERVING=1 keeps
it NOT_SERVING; $AIMASS_FAKE_IGNORE_TERM=1 makes it ignore SIGTERM, so it has to be SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main() -> int:
    port = int(os.environ["AIMASS_FAKE_PORT"])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    serving = os.environ.get("AIMASS_FAKE_NOT_SERVING") != "1"
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    servicer.set("", status)
    sys.stderr.write(f"fake service serving on {port}\n")
    stop = threading.Event()
    if os.environ.get("AIMASS_FAKE_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    exit_after = float(os.environ.get("AIMASS_FAKE_EXIT_AFTER", "0")) or None
    if stop.wait(exit_after):
        server.stop(1).wait()
        sys.stderr.write("fake service stopped\n")
        return 0
    sys.stderr.write("fake service crashing on purpose\n")
    return 3


if __name__ == "__main__":
    sys.exit(main())
