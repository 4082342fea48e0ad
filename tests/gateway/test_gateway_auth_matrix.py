"""The auth matrix over every route the OpenAPI document lists: only health and docs are open;
every other route declares exactly one scope and answers 401 without a token, 403 to a token
lacking that scope, and 404 to a token of another project (without reaching any backend: the
backends here are all down, so a route that called one first would answer 503)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.gateway.auth import Scope
from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway

OPEN_PATHS = {"/livez", "/healthz", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready"}
BODY_METHODS = {"post", "put", "patch"}


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    home: Path = tmp_path_factory.mktemp("auth-matrix")
    async with running_gateway(gateway_settings(home)) as running:
        yield running


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def required_scope(operation: dict[str, Any]) -> str:
    requirements = operation.get("security") or []
    scopes = [scope for requirement in requirements for scope in requirement.get("bearer", [])]
    assert len(scopes) == 1, f"expected one scope, found {scopes}"
    return scopes[0]


def sample(parameter: dict[str, Any]) -> str:
    """A value that passes the parameter's schema, so a failure is about auth, not its shape."""
    return "1" if parameter.get("schema", {}).get("type") == "integer" else "x1"


def concrete(path: str, operation: dict[str, Any], project: str) -> str:
    """``path`` with its parameters filled in, the project's with ``project``."""
    parameters = operation.get("parameters", [])
    samples = {p["name"]: sample(p) for p in parameters if p["in"] == "path"}
    samples["project"] = project
    return re.sub(r"\{([^}]+)\}", lambda match: samples.get(match[1], "x1"), path)


async def call(client: Any, method: str, path: str, operation: dict[str, Any]) -> Any:
    parameters = operation.get("parameters", [])
    query = {p["name"]: sample(p) for p in parameters if p["in"] == "query" and p.get("required")}
    extra: dict[str, Any] = {"json": {}} if method in BODY_METHODS else {}
    return await client.request(method.upper(), path, params=query, **extra)


async def test_every_route_but_health_and_docs_declares_one_scope(gateway: Gateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    listed = operations(document)
    assert len(listed) > 20
    for method, path, operation in listed:
        if path in OPEN_PATHS:
            assert not operation.get("security"), f"{method} {path} should be open"
            continue
        assert required_scope(operation) in {s.value for s in Scope}, f"{method} {path}"


async def test_no_token_401_wrong_scope_403_other_project_404(gateway: Gateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    tokens: dict[str, Any] = {}
    for scope in Scope:
        if scope is Scope.ADMIN:
            continue
        others = [s.value for s in Scope if s not in (scope, Scope.ADMIN)]
        tokens[f"not-{scope.value}"] = gateway.as_token(await gateway.issue("alpha", others))
    tokens["not-admin"] = gateway.as_token(
        await gateway.issue("alpha", [s.value for s in Scope if s is not Scope.ADMIN])
    )
    tokens["alpha-admin"] = gateway.as_token(await gateway.issue("alpha", ["admin"]))
    problems: list[str] = []
    for method, path, operation in operations(document):
        if path in OPEN_PATHS:
            continue
        scope = required_scope(operation)
        target = concrete(path, operation, "beta")
        anonymous = await call(gateway.client, method, target, operation)
        if anonymous.status_code != 401:
            problems.append(f"{method} {path} without token: {anonymous.status_code}")
        lacking = await call(tokens[f"not-{scope}"], method, target, operation)
        if lacking.status_code != 403:
            problems.append(f"{method} {path} without {scope}: {lacking.status_code}")
        if "{project}" in path:
            holder = tokens["alpha-admin"]
            elsewhere = await call(holder, method, target, operation)
            if elsewhere.status_code != 404:
                problems.append(f"{method} {path} other project: {elsewhere.status_code}")
            elif "beta" in elsewhere.text and "does not exist" not in elsewhere.text:
                problems.append(f"{method} {path} other project reveals: {elsewhere.text}")
    assert not problems, "\n".join(problems)


async def test_bad_requests_are_documented_as_400_with_the_error_body(gateway: Gateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path} lists 422; the gateway answers 400"
        schema = responses.get("400", {}).get("content", {}).get("application/json", {})
        reference = schema.get("schema", {}).get("$ref", "")
        if reference:
            assert reference.rsplit("/", 1)[1] in document["components"]["schemas"]
    bad = await gateway.admin.get("/api/v1/tokens", params={"include_revoked": "maybe"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"code", "message", "request_id"}
