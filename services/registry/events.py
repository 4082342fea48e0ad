"""What the registry publishes: its events, through the common transactional outbox."""

from __future__ import annotations

from aimass.events.v1 import events_pb2

MESSAGE_TYPES = (events_pb2.Event,)
