"""The quota rows the admin routes read and write, and the usage counters. Every statement runs on
SQLite and PostgreSQL alike (``INSERT ... ON CONFLICT DO UPDATE``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import utcnow
from services.gateway.models import Base, Quota, Token, Usage
from services.gateway.quota_math import Limits


def upsert(dialect: str, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT in the dialect at hand (the gateway runs on both)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class UsageKey(NamedTuple):
    token_id: str
    model: str
    day: str


@dataclass(frozen=True)
class UsageTotal:
    token_id: str
    token_name: str
    model: str
    requests: int
    refused: int
    errors: int


class QuotaRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add_usage(self, counts: dict[UsageKey, list[int]]) -> None:
        """Add buffered counts [requests, refused, errors]; sorted, so that concurrent
        replicas lock rows in one order and cannot deadlock."""
        if not counts:
            return
        rows = [
            {
                "token_id": key.token_id,
                "model": key.model,
                "day": key.day,
                "requests": value[0],
                "refused": value[1],
                "errors": value[2],
            }
            for key, value in sorted(counts.items())
        ]
        async with self.sessions() as session, session.begin():
            statement = upsert(_dialect(session), Usage).values(rows)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[Usage.token_id, Usage.model, Usage.day],
                    set_={
                        "requests": Usage.requests + statement.excluded.requests,
                        "refused": Usage.refused + statement.excluded.refused,
                        "errors": Usage.errors + statement.excluded.errors,
                    },
                )
            )

    async def limits_of(self, token_id: str) -> dict[str, Limits]:
        """The token's quota rows by model ("" = every request of the token)."""
        return {row.model: limits_of(row) for row in await self.quotas(token_id)}

    async def quotas(self, token_id: str) -> list[Quota]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(Quota).where(Quota.token_id == token_id).order_by(Quota.model)
            )
            return list(rows)

    async def put(self, token_id: str, model: str, limits: Limits) -> Quota:
        values = {
            "rate_per_second": limits.rate_per_second,
            "burst": limits.burst,
            "period": limits.period,
            "period_limit": limits.period_limit,
            "updated_at": utcnow(),
        }
        async with self.sessions() as session, session.begin():
            statement = upsert(_dialect(session), Quota).values(
                token_id=token_id, model=model, **values
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[Quota.token_id, Quota.model], set_=values
                )
            )
        async with self.sessions() as session:
            row = await session.get(Quota, (token_id, model))
        assert row is not None
        return row

    async def delete(self, token_id: str, model: str) -> bool:
        async with self.sessions() as session, session.begin():
            deleted = await session.execute(
                delete(Quota).where(Quota.token_id == token_id, Quota.model == model)
            )
        return bool(getattr(deleted, "rowcount", 0))

    async def token_usage(self, token_id: str, first: str, last: str) -> list[Usage]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(Usage)
                .where(Usage.token_id == token_id, Usage.day >= first, Usage.day <= last)
                .order_by(Usage.day, Usage.model)
            )
            return list(rows)

    async def project_usage(self, project: str, first: str, last: str) -> list[UsageTotal]:
        """Usage summed by token and model; project "" spans every project."""
        query = (
            select(
                Usage.token_id,
                func.coalesce(Token.name, ""),
                Usage.model,
                func.sum(Usage.requests),
                func.sum(Usage.refused),
                func.sum(Usage.errors),
            )
            .outerjoin(Token, Token.id == Usage.token_id)
            .where(Usage.day >= first, Usage.day <= last)
            .group_by(Usage.token_id, Token.name, Usage.model)
            .order_by(Usage.token_id, Usage.model)
        )
        if project:
            query = query.where(Token.project == project)
        async with self.sessions() as session:
            result = await session.execute(query)
            return [
                UsageTotal(token_id, name, model, int(requests), int(refused), int(errors))
                for token_id, name, model, requests, refused, errors in result.all()
            ]


def limits_of(row: Quota) -> Limits:
    return Limits(row.rate_per_second, row.burst, row.period, row.period_limit)
