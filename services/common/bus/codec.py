"""Protobuf payloads and the headers that travel with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from services.common.logs import REQUEST_ID_HEADER, request_id_var

M = TypeVar("M", bound=Message)

MSG_ID_HEADER = "Nats-Msg-Id"
CONTENT_TYPE_HEADER = "content-type"
_CONTENT_TYPE_PREFIX = "application/protobuf; proto="
_UNSET_REQUEST_ID = "-"


class Poison(Exception):
    """The message can never be processed (undecodable, wrong type, invalid): terminate it."""


def content_type(message_type: type[Message] | Message) -> str:
    return _CONTENT_TYPE_PREFIX + message_type.DESCRIPTOR.full_name


def encode(message: Message, msg_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    headers = {CONTENT_TYPE_HEADER: content_type(message)}
    if msg_id is not None:
        headers[MSG_ID_HEADER] = msg_id
    request_id = request_id_var.get()
    if request_id and request_id != _UNSET_REQUEST_ID:
        headers[REQUEST_ID_HEADER] = request_id
    return message.SerializeToString(), headers


def decode(message_type: type[M], data: bytes, headers: Mapping[str, str] | None) -> M:
    """Parse ``data``; a payload that says it is another type, or does not parse, is poison."""
    declared = (headers or {}).get(CONTENT_TYPE_HEADER)
    expected = message_type.DESCRIPTOR.full_name
    if declared is not None and declared != content_type(message_type):
        raise Poison(f"payload is {declared!r}, this consumer expects {expected}")
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise Poison(f"payload does not parse as {expected}: {exc}") from exc
    return message
