"""Tokens: bootstrap, issue, scopes, projects, expiry, revocation across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.gateway.auth import TokenService, hash_secret
from services.gateway.models import Token
from tests.gateway.gateway_fixtures import ADMIN_SECRET, Gateway, gateway_settings, running_gateway


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path)) as running:
        yield running


async def test_open_routes_need_no_token(gateway: Gateway) -> None:
    assert (await gateway.client.get("/livez")).status_code == 200
    assert (await gateway.client.get("/healthz")).status_code == 200
    assert (await gateway.client.get("/openapi.json")).status_code == 200
    assert (await gateway.client.get("/docs")).status_code == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True


async def test_no_token_and_a_wrong_token_are_401_with_a_challenge(gateway: Gateway) -> None:
    missing = await gateway.client.get("/api/v1/whoami")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    wrong = await gateway.client.get("/api/v1/whoami", headers={"Authorization": "Bearer amk_nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_issued_token_is_shown_once_and_stored_hashed(gateway: Gateway) -> None:
    response = await gateway.admin.post(
        "/api/v1/tokens", json={"name": "ci", "project": "alpha", "scopes": ["read", "predict"]}
    )
    assert response.status_code == 201
    issued = response.json()
    assert issued["secret"].startswith("amk_") and issued["project"] == "alpha"
    async with gateway.app.state.tokens.sessions() as session:
        row = await session.get(Token, issued["id"])
    assert row is not None and row.secret_hash == hash_secret(issued["secret"])
    assert issued["secret"] not in repr(row.__dict__)
    listed = (await gateway.admin.get("/api/v1/tokens")).json()["items"]
    assert issued["id"] in {item["id"] for item in listed}
    assert all("secret" not in item for item in listed)
    who = (await gateway.as_token(issued["secret"]).get("/api/v1/whoami")).json()
    assert who["project"] == "alpha" and who["scopes"] == ["predict", "read"]


async def test_a_token_records_when_it_was_last_used(gateway: Gateway) -> None:
    issued = (
        await gateway.admin.post(
            "/api/v1/tokens", json={"name": "usage", "project": "alpha", "scopes": ["read"]}
        )
    ).json()
    assert issued["last_used_at"] is None
    before = datetime.now(UTC)
    assert (await gateway.as_token(issued["secret"]).get("/api/v1/whoami")).status_code == 200
    shown = (await gateway.admin.get(f"/api/v1/tokens/{issued['id']}")).json()
    used = datetime.fromisoformat(shown["last_used_at"])
    assert used.tzinfo is not None and before - timedelta(seconds=1) <= used <= datetime.now(UTC)
    untouched = (
        await gateway.admin.post(
            "/api/v1/tokens", json={"name": "idle", "project": "alpha", "scopes": ["read"]}
        )
    ).json()
    listed = {
        item["id"]: item for item in (await gateway.admin.get("/api/v1/tokens")).json()["items"]
    }
    assert listed[untouched["id"]]["last_used_at"] is None
    assert listed[issued["id"]]["last_used_at"] == shown["last_used_at"]


async def test_scope_and_project_limits(gateway: Gateway) -> None:
    reader = gateway.as_token(await gateway.issue("alpha", ["read"]))
    refused = await reader.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]})
    assert refused.status_code == 403
    assert "'admin' scope" in refused.json()["error"]["message"]
    project_admin = gateway.as_token(await gateway.issue("alpha", ["admin"]))
    own = await project_admin.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]})
    assert own.status_code == 201 and own.json()["project"] == "alpha"
    other = await project_admin.post(
        "/api/v1/tokens", json={"name": "x", "project": "beta", "scopes": ["read"]}
    )
    assert other.status_code == 404
    beta_token = await gateway.admin.post(
        "/api/v1/tokens", json={"name": "b", "project": "beta", "scopes": ["read"]}
    )
    hidden = await project_admin.get(f"/api/v1/tokens/{beta_token.json()['id']}")
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "project": "a", "scopes": []}, "scopes"),
        ({"name": "x", "project": "a", "scopes": ["root"]}, "scopes"),
        ({"name": "", "project": "a", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"]}, "name the project"),
        (
            {"name": "x", "project": "a", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
            "in the past",
        ),
    ],
)
async def test_bad_token_requests_are_400(
    gateway: Gateway, body: dict[str, object], fragment: str
) -> None:
    response = await gateway.admin.post("/api/v1/tokens", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


async def test_malformed_json_is_400(gateway: Gateway) -> None:
    response = await gateway.admin.post(
        "/api/v1/tokens", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"


async def test_an_expired_token_is_refused(gateway: Gateway) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    secret = await gateway.issue("alpha", ["read"], expires_at=soon.isoformat())
    client = gateway.as_token(secret)
    assert (await client.get("/api/v1/whoami")).status_code == 200
    await asyncio.sleep(1.2)
    expired = await client.get("/api/v1/whoami")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


async def test_revocation_reaches_another_replica_within_five_seconds(
    gateway: Gateway, tmp_path: Path
) -> None:
    secret = await gateway.issue("alpha", ["read"])
    other_settings = gateway_settings(tmp_path, gateway.settings.db_url())
    async with running_gateway(other_settings) as replica:
        client = replica.as_token(secret)
        assert (await client.get("/api/v1/whoami")).status_code == 200  # cached there now
        token_id = (await client.get("/api/v1/whoami")).json()["token_id"]
        revoked = await gateway.admin.delete(f"/api/v1/tokens/{token_id}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (await client.get("/api/v1/whoami")).status_code == 200:
            assert loop.time() - start < 5, "the revoked token still works after 5 s"
            await asyncio.sleep(0.1)
        assert (await gateway.as_token(secret).get("/api/v1/whoami")).status_code == 401


async def test_bootstrap_token_is_created_once_and_follows_the_variable(tmp_path: Path) -> None:
    from services.common.db import create_engine, create_sessionmaker, upgrade_database_async

    url = f"sqlite+aiosqlite:///{tmp_path / 'boot.db'}"
    await upgrade_database_async("gateway", url)
    engine = create_engine(url)
    try:
        service = TokenService(create_sessionmaker(engine))
        first = await service.ensure_bootstrap(None)
        assert first and first.startswith("amk_")
        assert await service.ensure_bootstrap(None) is None
        assert (await service.authenticate(first)).project == ""
        assert await service.ensure_bootstrap(ADMIN_SECRET) is None
        assert (await service.authenticate(ADMIN_SECRET)).token_id == "bootstrap-admin"
        with pytest.raises(Exception, match="unknown or revoked"):
            await service.authenticate(first)
    finally:
        await engine.dispose()


async def test_an_oversized_body_is_413_and_nothing_is_written(gateway: Gateway) -> None:
    limit = gateway.settings.gateway_max_body_bytes
    body = b'{"name": "' + b"x" * (limit + 10) + b'", "project": "a", "scopes": ["read"]}'
    before = len((await gateway.admin.get("/api/v1/tokens")).json()["items"])
    response = await gateway.admin.post(
        "/api/v1/tokens", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    assert len((await gateway.admin.get("/api/v1/tokens")).json()["items"]) == before


async def test_a_chunked_body_over_the_limit_is_413_while_it_streams(gateway: Gateway) -> None:
    limit = gateway.settings.gateway_max_body_bytes
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        while sent <= limit + 1024 * 1024:
            sent += 256 * 1024
            yield b"x" * (256 * 1024)
        yield b'", "project": "a", "scopes": ["read"]}'

    response = await gateway.admin.post(
        "/api/v1/tokens", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "over the limit" in response.json()["error"]["message"]


async def test_a_token_store_that_is_down_is_unavailable_not_an_internal_error() -> None:
    from services.common.db import create_engine, create_sessionmaker
    from services.common.errors import Unavailable

    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        service = TokenService(create_sessionmaker(engine))
        with pytest.raises(Unavailable, match="token store is unavailable"):
            await service.authenticate("amk_anything")
    finally:
        await engine.dispose()
