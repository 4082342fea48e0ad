"""Assertions and names every component test uses."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest


async def refused(call: Awaitable[Any], code: grpc.StatusCode, *fragments: str) -> str:
    """Await a call that must fail with ``code`` and a message containing every fragment."""
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    details = error.value.details() or ""
    assert error.value.code() == code, details
    for fragment in fragments:
        assert fragment in details, f"{fragment!r} not in {details!r}"
    return details


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
