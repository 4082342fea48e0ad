"""Cancelling a running pipeline from another thread: a flag plus DuckDB's interrupt()."""

from __future__ import annotations

import threading

import duckdb


class JobCancelled(Exception):
    """The job was cancelled while the pipeline ran."""


class CancelToken:
    """Set from any thread; interrupts the DuckDB query running on the attached connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self.cancelled = False
        self.reason = ""

    def attach(self, con: duckdb.DuckDBPyConnection | None) -> None:
        with self._lock:
            self._con = con
            if con is not None and self.cancelled:
                con.interrupt()

    def cancel(self, reason: str = "") -> None:
        with self._lock:
            self.cancelled, self.reason = True, reason
            if self._con is not None:
                self._con.interrupt()

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled(self.reason or "cancelled")

    def query_progress(self) -> float:
        """Percent done of the running query (-1: unknown)."""
        with self._lock:
            con = self._con
        try:
            return float(con.query_progress()) if con is not None else -1.0
        except duckdb.Error:
            return -1.0
