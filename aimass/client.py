"""The Python SDK: a synchronous REST client of the AI Mass gateway.

    from aimass import Client

    with Client() as aimass:  # $AIMASS_URL / $AIMASS_TOKEN, or the local stack's admin token
        upload = aimass.upload("shop", "orders.csv", progress=True)
        job = aimass.ingest("shop", "orders", file_recipe(upload["upload_id"]))
        for update in aimass.watch_ingest("shop", job["id"]):
            print(update["state"], update["progress"]["rows_read"])

Every method answers the gateway's JSON (dicts and lists, proto3 JSON field names; 64-bit integers
arrive as strings, as that mapping says). List methods follow ``next_page_token`` to the end (or to
``limit`` items). A failed call raises :class:`ApiError` with the HTTP status, the error code, the
message and the request id to quote when reporting it.
"""

from __future__ import annotations

from aimass.client_admin import AdminMixin
from aimass.client_base import ApiError, ServerEvent
from aimass.client_data import DataMixin, file_recipe
from aimass.client_ml import MlMixin, param_value
from aimass.client_progress import ProgressBar


class Client(DataMixin, MlMixin, AdminMixin):
    """``Client(url=None, token=None, timeout=30)``: ``url`` defaults to ``$AIMASS_URL`` or
    http://127.0.0.1:8000; ``token`` to ``$AIMASS_TOKEN``, else ``<$AIMASS_HOME or ./.aimass>/
    admin-token`` (written by a local gateway at its first start)."""

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"


__all__ = ["ApiError", "Client", "ProgressBar", "ServerEvent", "file_recipe", "param_value"]
