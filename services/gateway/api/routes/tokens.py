"""/api/v1/tokens: issue (the secret is shown once), list, inspect, revoke; whoami."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.common.errors import InvalidArgument
from services.gateway.api.deps import AdminPrincipal, ReadPrincipal, TokensDep
from services.gateway.auth import Principal, Scope
from services.gateway.models import Token

router = APIRouter(prefix="/api/v1", tags=["tokens"])


class TokenInfo(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the secret, to recognise it.")
    project: str = Field(description="The project the token acts in; empty: every project.")
    scopes: list[str]
    models: list[str] = Field(description="Models it may call; empty: every model.")
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When a request last presented the token (to within the gateway's token "
        "cache time, 2 s by default); null: never used."
    )

    @classmethod
    def from_row(cls, row: Token) -> TokenInfo:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            project=row.project,
            scopes=list(row.scopes),
            models=list(row.models),
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


class IssuedTokenInfo(TokenInfo):
    secret: str = Field(description="The token itself: shown this once, stored only hashed.")


class CreateToken(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="What the token is for.")
    project: str = Field(
        default="",
        max_length=128,
        description="Project to bind the token to; default the caller's own.",
    )
    scopes: list[Scope] = Field(min_length=1)
    models: list[str] = Field(default_factory=list, max_length=1000)
    # With its UTC offset: a naive time cannot be compared with the gateway's clock.
    expires_at: AwareDatetime | None = None


class TokenList(BaseModel):
    items: list[TokenInfo]
    next_page_token: str = ""


class WhoAmI(BaseModel):
    token_id: str
    name: str
    project: str
    scopes: list[str]
    models: list[str]
    expires_at: datetime | None


def _bound_project(principal: Principal, requested: str) -> str:
    if principal.project:
        return principal.check_project(requested or principal.project)
    if not requested:
        raise InvalidArgument("name the project the token is for (an admin token spans all)")
    return requested


@router.post("/tokens", status_code=201, summary="Issue a token; its secret is shown once")
async def create_token(
    body: CreateToken, principal: AdminPrincipal, tokens: TokensDep
) -> IssuedTokenInfo:
    issued = await tokens.issue(
        project=_bound_project(principal, body.project),
        name=body.name,
        scopes=[scope.value for scope in body.scopes],
        models=body.models,
        expires_at=body.expires_at,
        created_by=principal.actor,
    )
    info = TokenInfo.from_row(issued.row)
    return IssuedTokenInfo(**info.model_dump(), secret=issued.secret)


@router.get("/tokens", summary="Tokens of the caller's project (an all-projects admin: all)")
async def list_tokens(
    principal: AdminPrincipal,
    tokens: TokensDep,
    include_revoked: Annotated[bool, Query()] = False,
) -> TokenList:
    rows = await tokens.list(principal.project, include_revoked=include_revoked)
    return TokenList(items=[TokenInfo.from_row(row) for row in rows])


@router.get("/tokens/{token_id}", summary="One token (never its secret)")
async def get_token(token_id: str, principal: AdminPrincipal, tokens: TokensDep) -> TokenInfo:
    return TokenInfo.from_row(await tokens.get(token_id, principal.project))


@router.delete("/tokens/{token_id}", summary="Revoke a token (every replica within 5 s)")
async def revoke_token(token_id: str, principal: AdminPrincipal, tokens: TokensDep) -> TokenInfo:
    return TokenInfo.from_row(await tokens.revoke(token_id, principal.project))


@router.get("/whoami", summary="The calling token")
async def whoami(principal: ReadPrincipal) -> WhoAmI:
    return WhoAmI(
        token_id=principal.token_id,
        name=principal.name,
        project=principal.project,
        scopes=sorted(scope.value for scope in principal.scopes),
        models=list(principal.models),
        expires_at=principal.expires_at,
    )
