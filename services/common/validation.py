"""Checks every service applies to what callers send; each message says what to fix."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sized

from services.common.errors import InvalidArgument

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_RULE = (
    "1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit, "
    "without '..'"
)
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/ -]{0,249}$")
KEY_RULE = "1-250 characters of letters, digits, '_', '.', ':', '/', '-' and spaces"

MAX_TAG_VALUE = 5_000
MAX_PARAM_VALUE = 6_000
MAX_DESCRIPTION = 20_000
MAX_ITEMS_PER_CALL = 1_000


def validate_name(value: str, what: str) -> str:
    if not NAME_PATTERN.fullmatch(value) or ".." in value:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidArgument(f"{what} {shown!r} is not a valid name: use {NAME_RULE}")
    return value


def validate_key(value: str, what: str) -> str:
    if not KEY_PATTERN.fullmatch(value) or ".." in value:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidArgument(f"{what} {shown!r} is not a valid key: use {KEY_RULE}")
    return value


def validate_text(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def validate_mapping(
    values: Mapping[str, str], what: str, value_limit: int, max_items: int = MAX_ITEMS_PER_CALL
) -> dict[str, str]:
    validate_count(values, what, max_items)
    for key, value in values.items():
        validate_key(key, f"{what} key")
        validate_text(value, f"{what} {key!r}", value_limit)
    return dict(values)


def validate_count(items: Sized, what: str, limit: int) -> None:
    if len(items) > limit:
        raise InvalidArgument(f"{len(items)} {what} in one call; send at most {limit} per call")


def require(value: str, what: str) -> str:
    if not value:
        raise InvalidArgument(f"{what} is required")
    return value
