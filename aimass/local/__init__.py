"""The local stack behind ``aimass up/down/status/migrate``: NATS plus every installed service.

Nothing here prints: callers pass a ``say`` function for progress lines, and errors the user must
act on are raised as :class:`StackError` with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]


class StackError(RuntimeError):
    """A problem the user can fix (port taken, binary missing, service unhealthy): shown as is."""
