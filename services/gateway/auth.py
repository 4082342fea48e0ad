"""Tokens: opaque random secrets shown once, stored as SHA-256, bound to a project with scopes, an
optional model allow-list and an expiry. Each replica trusts a looked-up token for at most
``cache_seconds`` (<= 5 s), so a revocation reaches every replica within that time."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import database_unavailable
from services.common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.common.ttl_cache import TtlCache
from services.gateway.models import Token

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "amk_"
BOOTSTRAP_TOKEN_ID = "bootstrap-admin"


class Scope(StrEnum):
    READ = "read"
    DATA_WRITE = "data:write"
    TRAIN = "train"
    DEPLOY = "deploy"
    PREDICT = "predict"
    ADMIN = "admin"


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    known = {scope.value for scope in Scope}
    scopes = list(values)
    unknown = sorted(set(scopes) - known)
    if unknown:
        raise InvalidArgument(f"unknown scope(s) {unknown}; use some of {sorted(known)}")
    if not scopes:
        raise InvalidArgument(f"a token needs at least one scope of {sorted(known)}")
    return frozenset(Scope(value) for value in scopes)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: one token."""

    token_id: str
    name: str
    project: str  # "" = every project (the bootstrap admin token)
    scopes: frozenset[Scope]
    models: tuple[str, ...]  # () = every model of the project
    expires_at: datetime | None

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def check_scope(self, scope: Scope) -> None:
        if not self.has(scope):
            raise PermissionDenied(
                f"this token lacks the {scope.value!r} scope (it has "
                f"{sorted(s.value for s in self.scopes)}); ask an admin for a token with it"
            )

    def check_project(self, project: str) -> str:
        """The project a request may act on; another project looks as if it did not exist."""
        if self.project and project != self.project:
            raise NotFound(f"project {project!r} does not exist")
        return project

    def check_model(self, model: str) -> None:
        if self.models and model not in self.models:
            raise NotFound(f"model {model!r} is not served")


def to_principal(row: Token) -> Principal:
    return Principal(
        token_id=row.id,
        name=row.name,
        project=row.project,
        scopes=frozenset(Scope(value) for value in row.scopes),
        models=tuple(row.models),
        expires_at=row.expires_at,
    )


@dataclass(frozen=True)
class IssuedToken:
    row: Token
    secret: str  # shown to the caller once, never stored


class TokenService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache_seconds: float = 2.0
    ) -> None:
        self.sessions = sessions
        self._cache: TtlCache[str, Principal | None] = TtlCache(cache_seconds)

    async def authenticate(self, secret: str) -> Principal:
        if not secret:
            raise Unauthenticated("no token: send 'Authorization: Bearer <token>'")
        digest = hash_secret(secret)
        principal = await self._cache.get(digest, lambda: self._look_up(digest))
        if principal is None:
            raise Unauthenticated("the token is unknown or revoked")
        if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
            raise Unauthenticated("the token has expired; ask for a new one")
        return principal

    async def _look_up(self, digest: str) -> Principal | None:
        """The token with this hash unless revoked, its use recorded in the same statement: a
        replica looks a token up once per cache TTL, so ``last_used_at`` is right to within it
        at the cost of one write per token and TTL."""
        async with (
            database_unavailable("token store"),
            self.sessions() as session,
            session.begin(),
        ):
            row = await session.scalar(
                update(Token)
                .where(Token.secret_hash == digest, Token.revoked_at.is_(None))
                .values(last_used_at=datetime.now(UTC))
                .returning(Token)
            )
        return None if row is None else to_principal(row)

    async def issue(
        self,
        *,
        project: str,
        name: str,
        scopes: Iterable[str],
        models: Iterable[str] = (),
        expires_at: datetime | None = None,
        created_by: str = "",
        token_id: str | None = None,
        secret: str | None = None,
    ) -> IssuedToken:
        checked = parse_scopes(scopes)
        if not name.strip():
            raise InvalidArgument("a token needs a name (what it is for)")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise InvalidArgument("expires_at is in the past; give a future time")
        secret = secret or new_secret()
        row = Token(
            id=token_id or uuid.uuid4().hex,
            secret_hash=hash_secret(secret),
            prefix=secret[:12],
            name=name.strip(),
            project=project,
            scopes=sorted(scope.value for scope in checked),
            models=sorted(set(models)),
            created_by=created_by,
            expires_at=expires_at,
        )
        async with self.sessions() as session, session.begin():
            session.add(row)
        return IssuedToken(row=row, secret=secret)

    async def list(self, project: str, include_revoked: bool = False) -> list[Token]:
        query = select(Token).order_by(Token.created_at, Token.id)
        if project:
            query = query.where(Token.project == project)
        if not include_revoked:
            query = query.where(Token.revoked_at.is_(None))
        async with self.sessions() as session:
            return list(await session.scalars(query))

    async def get(self, token_id: str, project: str) -> Token:
        async with self.sessions() as session:
            row = await session.get(Token, token_id)
        if row is None or (project and row.project != project):
            raise NotFound(f"token {token_id!r} does not exist")
        return row

    async def revoke(self, token_id: str, project: str) -> Token:
        row = await self.get(token_id, project)
        if row.revoked_at is None:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(Token)
                    .where(Token.id == token_id, Token.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC))
                )
            row = await self.get(token_id, project)
        self._forget(token_id)
        return row

    def _forget(self, token_id: str) -> None:
        self._cache.invalidate_where(lambda known: known is not None and known.token_id == token_id)

    async def ensure_bootstrap(self, configured: str | None) -> str | None:
        """Make sure an admin token exists. With AIMASS_ADMIN_TOKEN, that secret is it (rotated
        when the variable changes); otherwise the first replica to start creates one and returns
        its secret to print once. Returns None when nothing new is to be shown."""
        async with self.sessions() as session:
            existing = await session.get(Token, BOOTSTRAP_TOKEN_ID)
        if configured:
            if existing is not None and existing.secret_hash == hash_secret(configured):
                return None
            if existing is not None:
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        update(Token)
                        .where(Token.id == BOOTSTRAP_TOKEN_ID)
                        .values(
                            secret_hash=hash_secret(configured),
                            prefix=configured[:12],
                            revoked_at=None,
                        )
                    )
                self._forget(BOOTSTRAP_TOKEN_ID)
                return None
        elif existing is not None:
            return None
        try:
            issued = await self.issue(
                project="",
                name="bootstrap admin",
                scopes=[Scope.ADMIN.value],
                created_by="gateway",
                token_id=BOOTSTRAP_TOKEN_ID,
                secret=configured,
            )
        except IntegrityError:
            return None  # another replica created it first and printed it
        return None if configured else issued.secret
