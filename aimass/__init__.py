"""AI Mass: the Python SDK (:class:`Client`), the ``aimass`` CLI and the generated stubs.

The SDK is imported on first use, so services importing only the stubs never load the HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimass.client import ApiError, Client, ProgressBar, file_recipe, param_value

__all__ = ["ApiError", "Client", "ProgressBar", "file_recipe", "param_value"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from aimass import client

        return getattr(client, name)
    raise AttributeError(f"module 'aimass' has no attribute {name!r}")
