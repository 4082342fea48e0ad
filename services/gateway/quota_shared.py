"""The limiter state every replica shares: each function is one statement, run outside any
transaction, so that a row is locked only while the database executes it and never while a
replica's event loop is busy elsewhere. ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ...
RETURNING`` makes each charge atomic on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import Float, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.gateway.models import PeriodCounter, RateBucket
from services.gateway.quota_math import Gcra
from services.gateway.quota_store import upsert


async def take_rate(
    connection: AsyncConnection, token_id: str, model: str, gcra: Gcra, now: float, permits: int
) -> float | None:
    """Charge ``permits`` to a rate bucket: the new tat, or None when they do not fit (and
    nothing changed)."""
    if permits > gcra.burst:
        return None
    step = permits * gcra.interval
    later = case((RateBucket.tat > now, RateBucket.tat), else_=literal(now, Float())) + step
    statement = (
        upsert(connection.dialect.name, RateBucket)
        .values(token_id=token_id, model=model, tat=now + step)
        .on_conflict_do_update(
            index_elements=[RateBucket.token_id, RateBucket.model],
            set_={"tat": later},
            where=later <= gcra.ceiling(now),
        )
        .returning(RateBucket.tat)
    )
    tat: float | None = await connection.scalar(statement)
    return tat


async def give_back_rate(
    connection: AsyncConnection,
    token_id: str,
    model: str,
    gcra: Gcra,
    permits: int,
    charged_tat: float,
) -> None:
    """Undo a charge that left the bucket at ``charged_tat``, if no one has charged it since:
    otherwise the permits are lost (the token is admitted a little less), since taking them out
    of a later charge could move the bucket earlier than it would be without this one."""
    await connection.execute(
        update(RateBucket)
        .where(
            RateBucket.token_id == token_id,
            RateBucket.model == model,
            RateBucket.tat == charged_tat,
        )
        .values(tat=RateBucket.tat - permits * gcra.interval)
    )


async def read_tat(connection: AsyncConnection, token_id: str, model: str) -> float:
    tat = await connection.scalar(
        select(RateBucket.tat).where(RateBucket.token_id == token_id, RateBucket.model == model)
    )
    return float(tat or 0.0)


async def take_period(
    connection: AsyncConnection, token_id: str, model: str, key: str, limit: int, permits: int
) -> int | None:
    """Add ``permits`` to a period counter unless that passes ``limit``: the new count or None."""
    if permits > limit:
        return None
    added = PeriodCounter.admitted + permits
    statement = (
        upsert(connection.dialect.name, PeriodCounter)
        .values(token_id=token_id, model=model, period_key=key, admitted=permits)
        .on_conflict_do_update(
            index_elements=[PeriodCounter.token_id, PeriodCounter.model, PeriodCounter.period_key],
            set_={"admitted": added},
            where=added <= limit,
        )
        .returning(PeriodCounter.admitted)
    )
    admitted: int | None = await connection.scalar(statement)
    return admitted


async def give_back_period(
    connection: AsyncConnection, token_id: str, model: str, key: str, permits: int
) -> None:
    await connection.execute(
        update(PeriodCounter)
        .where(
            PeriodCounter.token_id == token_id,
            PeriodCounter.model == model,
            PeriodCounter.period_key == key,
            PeriodCounter.admitted >= permits,
        )
        .values(admitted=PeriodCounter.admitted - permits)
    )


async def read_admitted(connection: AsyncConnection, token_id: str, model: str, key: str) -> int:
    admitted = await connection.scalar(
        select(PeriodCounter.admitted).where(
            PeriodCounter.token_id == token_id,
            PeriodCounter.model == model,
            PeriodCounter.period_key == key,
        )
    )
    return int(admitted or 0)
