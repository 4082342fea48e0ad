"""Tokens, quotas and usage of :class:`aimass.Client` (the gateway's own resources)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from aimass.client_base import API, BaseClient, segment

Period = Literal["day", "month"]


def quota_path(token_id: str, model: str = "") -> str:
    """The token-wide quota, or the quota of one model (deployment) for that token."""
    base = f"{API}/tokens/{segment(token_id)}"
    return f"{base}/quotas/{segment(model)}" if model else f"{base}/quota"


def usage_days(first: date | None, last: date | None) -> dict[str, str | None]:
    """The usage routes' ``?from=&to=`` (UTC days; the gateway's default: the last 30 days)."""
    return {
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
    }


class AdminMixin(BaseClient):
    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        scopes: Sequence[str],
        project: str = "",
        models: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Issue a token (scopes: read, data:write, train, deploy, predict, admin); the answer's
        ``secret`` is shown this once. A naive ``expires_at`` is local time."""
        body: dict[str, Any] = {
            "name": name,
            "project": project,
            "scopes": list(scopes),
            "models": list(models),
        }
        if expires_at is not None:
            body["expires_at"] = expires_at.astimezone().isoformat()
        return dict(self.request("POST", f"{API}/tokens", json=body))

    def tokens(self, include_revoked: bool = False) -> list[dict[str, Any]]:
        params = {"include_revoked": include_revoked or None}
        return list(self.paginate(f"{API}/tokens", "items", params))

    def token(self, token_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"{API}/tokens/{segment(token_id)}"))

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        """Revoke; answers the token with its ``revoked_at``."""
        return dict(self.request("DELETE", f"{API}/tokens/{segment(token_id)}"))

    def whoami(self) -> dict[str, Any]:
        return dict(self.request("GET", f"{API}/whoami"))

    # -- quotas and usage ----------------------------------------------------------------------

    def set_quota(
        self,
        token_id: str,
        model: str = "",
        *,
        rate_per_second: float | None = None,
        burst: int | None = None,
        period: Period | None = None,
        period_limit: int | None = None,
    ) -> dict[str, Any]:
        """Replace the limits of a token's requests (or of its calls to one ``model``): a rate
        with an optional ``burst``, and/or ``period_limit`` requests per UTC ``period``. A limit
        left out is no limit."""
        limits = {
            "rate_per_second": rate_per_second,
            "burst": burst,
            "period": period,
            "period_limit": period_limit,
        }
        body = {key: value for key, value in limits.items() if value is not None}
        return dict(self.request("PUT", quota_path(token_id, model), json=body))

    def quotas(self, token_id: str) -> list[dict[str, Any]]:
        """A token's quotas: the token-wide one has ``model`` "", then one per model."""
        path = f"{API}/tokens/{segment(token_id)}/quotas"
        return list(self.request("GET", path).get("items", []))

    def delete_quota(self, token_id: str, model: str = "") -> None:
        self.request("DELETE", quota_path(token_id, model))

    def usage(
        self, token_id: str = "", first: date | None = None, last: date | None = None
    ) -> dict[str, Any]:
        """Requests counted from UTC day ``first`` to ``last`` (default: the last 30 days):
        of one token by day and model, or of every token of the caller's project by token and
        model. ``{"first_day", "last_day", "items": [...]}``."""
        path = f"{API}/tokens/{segment(token_id)}/usage" if token_id else f"{API}/usage"
        return dict(self.request("GET", path, params=usage_days(first, last)))
