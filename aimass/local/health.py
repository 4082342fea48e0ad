"""Health of one recorded stack component, whatever its kind."""

from __future__ import annotations

from aimass.local.nats import parse_nats_url, probe_nats
from aimass.local.state import Component
from services.common.healthcheck import HealthResult, check_grpc, check_http


def check_component(component: Component, timeout: float = 2.0) -> HealthResult:
    if component.kind == "nats":
        host, port = parse_nats_url(component.address)
        probe = probe_nats(host, port, timeout)
        if probe.kind == "nats":
            return HealthResult(True, "SERVING", f"NATS {probe.version}".strip())
        if probe.kind == "other":
            return HealthResult(False, "NOT_NATS", "something else answers on the port")
        return HealthResult(False, "UNREACHABLE")
    if component.kind == "http":
        path = component.health_path.lstrip("/")
        return check_http(f"http://{component.address}/{path}", timeout)
    return check_grpc(component.address, component.health_path, timeout)
