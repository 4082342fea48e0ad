"""Quotas (placeholder until the shared implementation lands): admits every request."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.auth import Principal


class QuotaService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], flush_seconds: float = 1.0
    ) -> None:
        self.sessions = sessions
        self.flush_seconds = flush_seconds

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def admit(self, principal: Principal, model: str) -> dict[str, str]:
        """Charge one request; the RateLimit-* headers to send back, or QuotaExceeded."""
        return {}

    def record(self, principal: Principal, model: str, ok: bool) -> None:
        return None
