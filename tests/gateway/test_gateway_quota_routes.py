"""The quota admin routes: set, list, remove, validation, and a project admin's reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.gateway_fixtures import Gateway, gateway_settings, running_gateway


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path)) as running:
        yield running


async def new_token(gateway: Gateway, project: str = "alpha") -> str:
    response = await gateway.admin.post(
        "/api/v1/tokens", json={"name": "routes", "project": project, "scopes": ["read"]}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_set_list_replace_and_remove_quotas(gateway: Gateway) -> None:
    token_id = await new_token(gateway)
    wide = await gateway.admin.put(f"/api/v1/tokens/{token_id}/quota", json={"rate_per_second": 5})
    assert wide.status_code == 200
    assert (wide.json()["model"], wide.json()["burst"], wide.json()["period"]) == ("", 5, None)
    model = await gateway.admin.put(
        f"/api/v1/tokens/{token_id}/quotas/iris", json={"period": "month", "period_limit": 1000}
    )
    assert model.status_code == 200 and model.json()["rate_per_second"] is None
    replaced = await gateway.admin.put(
        f"/api/v1/tokens/{token_id}/quota", json={"period": "day", "period_limit": 10}
    )
    assert replaced.json()["rate_per_second"] is None and replaced.json()["period_limit"] == 10
    listed = (await gateway.admin.get(f"/api/v1/tokens/{token_id}/quotas")).json()["items"]
    assert [(item["model"], item["period"]) for item in listed] == [("", "day"), ("iris", "month")]
    assert (await gateway.admin.delete(f"/api/v1/tokens/{token_id}/quotas/iris")).status_code == 204
    again = await gateway.admin.delete(f"/api/v1/tokens/{token_id}/quotas/iris")
    assert again.status_code == 404 and "no quota for model 'iris'" in again.text
    assert (await gateway.admin.delete(f"/api/v1/tokens/{token_id}/quota")).status_code == 204
    assert (await gateway.admin.get(f"/api/v1/tokens/{token_id}/quotas")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"rate_per_second": -1}, "rate_per_second"),
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"rate_per_second": 1e-300}, "rate_per_second"),
        ({"rate_per_second": 1, "burst": 0}, "burst"),
        ({"burst": 3}, "burst needs rate_per_second"),
        ({"period": "week", "period_limit": 5}, "period"),
        ({"period": "day"}, "give both or neither"),
        ({"period_limit": -3, "period": "day"}, "period_limit"),
        ({"rate": 3}, "rate"),
        ({}, "to lift a quota, DELETE it"),
    ],
)
async def test_bad_limits_are_400_and_change_nothing(
    gateway: Gateway, body: dict[str, Any], fragment: str
) -> None:
    token_id = await new_token(gateway)
    await gateway.admin.put(f"/api/v1/tokens/{token_id}/quota", json={"rate_per_second": 7})
    response = await gateway.admin.put(f"/api/v1/tokens/{token_id}/quota", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
    listed = (await gateway.admin.get(f"/api/v1/tokens/{token_id}/quotas")).json()["items"]
    assert [item["rate_per_second"] for item in listed] == [7]


async def test_unknown_tokens_and_other_projects_are_404(gateway: Gateway) -> None:
    unknown = await gateway.admin.put("/api/v1/tokens/nope/quota", json={"rate_per_second": 1})
    assert unknown.status_code == 404 and "token 'nope' does not exist" in unknown.text
    beta_token = await new_token(gateway, "beta")
    response = await gateway.admin.post(
        "/api/v1/tokens", json={"name": "alpha admin", "project": "alpha", "scopes": ["admin"]}
    )
    alpha_admin = gateway.as_token(response.json()["secret"])
    for request in (
        alpha_admin.put(f"/api/v1/tokens/{beta_token}/quota", json={"rate_per_second": 1}),
        alpha_admin.get(f"/api/v1/tokens/{beta_token}/quotas"),
        alpha_admin.get(f"/api/v1/tokens/{beta_token}/usage"),
        alpha_admin.delete(f"/api/v1/tokens/{beta_token}/quotas/iris"),
    ):
        assert (await request).status_code == 404
    own = await new_token(gateway, "alpha")
    assert (await alpha_admin.get(f"/api/v1/tokens/{own}/quotas")).status_code == 200
    reader = gateway.as_token(await gateway.issue("alpha", ["read"]))
    assert (await reader.get(f"/api/v1/tokens/{own}/quotas")).status_code == 403


async def test_a_project_admin_sees_only_its_project_usage(gateway: Gateway) -> None:
    alpha_secret = await gateway.issue("alpha", ["admin"])
    beta_secret = await gateway.issue("beta", ["admin"])
    for secret in (alpha_secret, beta_secret):
        assert (await gateway.as_token(secret).get("/api/v1/whoami")).status_code == 200
    alpha = (await gateway.as_token(alpha_secret).get("/api/v1/usage")).json()["items"]
    who = (await gateway.as_token(alpha_secret).get("/api/v1/whoami")).json()["token_id"]
    assert {item["token_id"] for item in alpha} == {who}
    everyone = (await gateway.admin.get("/api/v1/usage")).json()["items"]
    assert len({item["token_id"] for item in everyone}) == 3  # and the bootstrap admin


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"from": "2026-11-20", "to": "2026-11-01"}, "is after"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 366 days"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-05", "from": "0001-01-06"}, "is after"),
    ],
)
async def test_bad_usage_ranges_are_400(
    gateway: Gateway, params: dict[str, str], fragment: str
) -> None:
    response = await gateway.admin.get("/api/v1/usage", params=params)
    assert response.status_code == 400 and fragment in response.json()["error"]["message"]


async def test_usage_ranges_near_the_start_of_the_calendar_are_fine(gateway: Gateway) -> None:
    response = await gateway.admin.get("/api/v1/usage", params={"to": "0001-01-05"})
    assert response.status_code == 200
    assert response.json()["first_day"] == "0001-01-01"
