"""Protobuf messages kept in JSON columns (schemas, statistics, configs, recipes)."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def from_json(data: dict[str, Any] | None, message_type: type[M]) -> M:
    """Fields this code no longer knows are ignored, so old rows still read."""
    message = message_type()
    if data:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    return message
