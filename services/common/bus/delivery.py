"""What a consumer's handler gets next to the decoded message: metadata and settlement."""

from __future__ import annotations

import datetime
import logging
from typing import Literal

from nats.aio.msg import Msg

from services.common.bus.codec import MSG_ID_HEADER
from services.common.bus.namespace import Namespace
from services.common.logs import REQUEST_ID_HEADER

logger = logging.getLogger(__name__)

Settlement = Literal["ack", "nak", "term"]


class Delivery:
    """One delivery of a JetStream message. Settle it at most once (ack, nak or term); a handler
    that settles nothing gets the consumer's default policy."""

    def __init__(self, msg: Msg, namespace: Namespace, max_deliver: int) -> None:
        meta = msg.metadata
        self._msg = msg
        self.headers: dict[str, str] = dict(msg.headers or {})
        self.subject = namespace.logical_subject(msg.subject)
        self.msg_id = self.headers.get(MSG_ID_HEADER, "")
        self.request_id = self.headers.get(REQUEST_ID_HEADER, "")
        self.num_delivered: int = meta.num_delivered
        self.stream_sequence: int = meta.sequence.stream
        self.published_at: datetime.datetime = meta.timestamp
        self.max_deliver = max_deliver
        self.settlement: Settlement | None = None

    @property
    def settled(self) -> bool:
        return self.settlement is not None

    @property
    def is_last_attempt(self) -> bool:
        """No redelivery follows a failure now: record a dead-letter state before raising."""
        return 0 < self.max_deliver <= self.num_delivered

    async def ack(self) -> None:
        self._settling("ack")
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        """Redeliver, after ``delay`` seconds (JetStream nak delay, server 2.7+)."""
        self._settling("nak")
        await self._msg.nak(delay=delay)

    async def term(self, reason: str) -> None:
        """Never redeliver. The reason is logged here (servers before 2.11 do not record it)."""
        self._settling("term")
        logger.error(
            "terminated message %s (stream seq %d) on %s: %s",
            self.msg_id or "-",
            self.stream_sequence,
            self.subject,
            reason,
        )
        await self._msg.term()

    async def in_progress(self) -> None:
        """Reset the ack_wait timer: 'still working on it'. A no-op once settled."""
        if not self.settled:
            await self._msg.in_progress()

    async def settle_quietly(
        self,
        how: Settlement,
        *,
        delay: float | None = None,
        reason: str = "",
        log: bool = True,
    ) -> None:
        """Settle unless already settled; a lost connection only costs a redelivery later."""
        if self.settled:
            return
        try:
            if how == "ack":
                await self.ack()
            elif how == "nak":
                await self.nak(delay)
            elif log:
                await self.term(reason)
            else:
                self._settling("term")
                await self._msg.term()
        except Exception as exc:
            logger.warning(
                "could not %s message %s on %s: %s; it will be redelivered after ack_wait",
                how,
                self.msg_id or "-",
                self.subject,
                exc,
            )

    def _settling(self, how: Settlement) -> None:
        if self.settlement is not None:
            raise RuntimeError(f"message {self.msg_id!r} was already settled ({self.settlement})")
        self.settlement = how
