"""Quotas of a token (token-wide and per model) and usage counters: admin routes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import InvalidArgument, NotFound
from services.gateway.api.deps import AdminPrincipal, QuotasDep, TokensDep
from services.gateway.auth import Principal, TokenService
from services.gateway.models import ALL_MODELS, Quota, Usage
from services.gateway.quota import QuotaService
from services.gateway.quota_math import MAX_RATE, MIN_RATE, Limits
from services.gateway.quota_store import UsageTotal

router = APIRouter(prefix="/api/v1", tags=["quotas"])

MAX_USAGE_DAYS = 366
DEFAULT_USAGE_DAYS = 30
ModelPath = Annotated[
    str, Path(min_length=1, max_length=128, description="The deployment (model) name.")
]


class QuotaBody(BaseModel):
    """Limits; a null (or missing) field means no such limit."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    rate_per_second: float | None = Field(
        default=None, ge=MIN_RATE, le=MAX_RATE, description="Sustained requests per second."
    )
    burst: int | None = Field(
        default=None,
        ge=1,
        le=10**9,
        description="Requests admitted at once; default: one second's worth of the rate.",
    )
    period: Literal["day", "month"] | None = Field(
        default=None, description="The UTC calendar period of period_limit."
    )
    period_limit: int | None = Field(
        default=None, ge=0, le=10**12, description="Requests per period."
    )

    def to_limits(self) -> Limits:
        return Limits(self.rate_per_second, self.burst, self.period, self.period_limit)


class QuotaInfo(BaseModel):
    token_id: str
    model: str = Field(description="Empty: every request of the token.")
    rate_per_second: float | None
    burst: int | None
    period: str | None
    period_limit: int | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Quota) -> QuotaInfo:
        return cls(
            token_id=row.token_id,
            model=row.model,
            rate_per_second=row.rate_per_second,
            burst=row.burst,
            period=row.period,
            period_limit=row.period_limit,
            updated_at=row.updated_at,
        )


class QuotaList(BaseModel):
    items: list[QuotaInfo]


class UsageDay(BaseModel):
    token_id: str
    model: str = Field(description="Empty: requests to the API other than predictions.")
    day: date
    requests: int = Field(description="Admitted requests.")
    refused: int = Field(description="Requests refused by a quota (429).")
    errors: int = Field(description="Admitted predictions that failed.")

    @classmethod
    def from_row(cls, row: Usage) -> UsageDay:
        return cls(
            token_id=row.token_id,
            model=row.model,
            day=date.fromisoformat(row.day),
            requests=row.requests,
            refused=row.refused,
            errors=row.errors,
        )


class UsageTotalInfo(BaseModel):
    token_id: str
    token_name: str
    model: str
    requests: int
    refused: int
    errors: int

    @classmethod
    def from_total(cls, total: UsageTotal) -> UsageTotalInfo:
        return cls(**vars(total))


class TokenUsage(BaseModel):
    first_day: date
    last_day: date
    items: list[UsageDay]


class ProjectUsage(BaseModel):
    first_day: date
    last_day: date
    items: list[UsageTotalInfo]


FromDay = Annotated[date | None, Query(alias="from", description="First UTC day (YYYY-MM-DD).")]
ToDay = Annotated[date | None, Query(alias="to", description="Last UTC day; default today.")]


def _days(first: date | None, last: date | None) -> tuple[date, date]:
    last = last or datetime.now(UTC).date()
    first = first or date.fromordinal(max(1, last.toordinal() - DEFAULT_USAGE_DAYS + 1))
    if first > last:
        raise InvalidArgument(f"from ({first}) is after to ({last})")
    if (last - first).days >= MAX_USAGE_DAYS:
        raise InvalidArgument(f"ask for at most {MAX_USAGE_DAYS} days at once")
    return first, last


async def _put(
    token_id: str,
    model: str,
    body: QuotaBody,
    principal: Principal,
    tokens: TokenService,
    quotas: QuotaService,
) -> QuotaInfo:
    await tokens.get(token_id, principal.project)
    return QuotaInfo.from_row(await quotas.set_quota(token_id, model, body.to_limits()))


async def _delete(
    token_id: str, model: str, principal: Principal, tokens: TokenService, quotas: QuotaService
) -> Response:
    await tokens.get(token_id, principal.project)
    if not await quotas.delete_quota(token_id, model):
        what = f"model {model!r}" if model else "all its requests"
        raise NotFound(f"token {token_id!r} has no quota for {what}")
    return Response(status_code=204)


@router.put("/tokens/{token_id}/quota", summary="Set the limits of all of a token's requests")
async def put_token_quota(
    token_id: str, body: QuotaBody, principal: AdminPrincipal, tokens: TokensDep, quotas: QuotasDep
) -> QuotaInfo:
    return await _put(token_id, ALL_MODELS, body, principal, tokens, quotas)


@router.delete(
    "/tokens/{token_id}/quota", status_code=204, summary="Remove a token's token-wide limits"
)
async def delete_token_quota(
    token_id: str, principal: AdminPrincipal, tokens: TokensDep, quotas: QuotasDep
) -> Response:
    return await _delete(token_id, ALL_MODELS, principal, tokens, quotas)


@router.put("/tokens/{token_id}/quotas/{model}", summary="Set a token's limits on one model")
async def put_model_quota(
    token_id: str,
    model: ModelPath,
    body: QuotaBody,
    principal: AdminPrincipal,
    tokens: TokensDep,
    quotas: QuotasDep,
) -> QuotaInfo:
    return await _put(token_id, model, body, principal, tokens, quotas)


@router.delete(
    "/tokens/{token_id}/quotas/{model}", status_code=204, summary="Remove a token's model limits"
)
async def delete_model_quota(
    token_id: str, model: ModelPath, principal: AdminPrincipal, tokens: TokensDep, quotas: QuotasDep
) -> Response:
    return await _delete(token_id, model, principal, tokens, quotas)


@router.get("/tokens/{token_id}/quotas", summary='A token\'s quotas (model "": token-wide)')
async def list_quotas(
    token_id: str, principal: AdminPrincipal, tokens: TokensDep, quotas: QuotasDep
) -> QuotaList:
    await tokens.get(token_id, principal.project)
    return QuotaList(items=[QuotaInfo.from_row(row) for row in await quotas.quotas(token_id)])


@router.get("/tokens/{token_id}/usage", summary="A token's requests by UTC day and model")
async def token_usage(
    token_id: str,
    principal: AdminPrincipal,
    tokens: TokensDep,
    quotas: QuotasDep,
    first: FromDay = None,
    last: ToDay = None,
) -> TokenUsage:
    await tokens.get(token_id, principal.project)
    first_day, last_day = _days(first, last)
    rows = await quotas.token_usage(token_id, first_day, last_day)
    return TokenUsage(
        first_day=first_day, last_day=last_day, items=[UsageDay.from_row(row) for row in rows]
    )


@router.get("/usage", summary="Requests of the caller's project by token and model")
async def project_usage(
    principal: AdminPrincipal, quotas: QuotasDep, first: FromDay = None, last: ToDay = None
) -> ProjectUsage:
    first_day, last_day = _days(first, last)
    totals = await quotas.project_usage(principal.project, first_day, last_day)
    return ProjectUsage(
        first_day=first_day,
        last_day=last_day,
        items=[UsageTotalInfo.from_total(total) for total in totals],
    )
