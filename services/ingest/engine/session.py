"""One DuckDB connection per ingest job, limited so a job runs out of core in bounded memory.

External access stays enabled: the readers read local files, uploads and fsspec filesystems whose
paths are only known per job, and DuckDB's `allowed_directories` only applies once external access
is off. What is closed instead: SQL can never reach Python variables by name (replacement scans
off), extensions are never downloaded (only the bundled ones load), community extensions are
refused. The time zone is UTC so temporal results never depend on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class EngineLimits:
    temp_directory: Path
    memory_limit: str = "1GB"
    threads: int = 2


def open_engine(limits: EngineLimits) -> duckdb.DuckDBPyConnection:
    """An in-memory connection that spills to `limits.temp_directory` (created if missing)."""
    if limits.threads < 1:
        raise InvalidArgument(f"engine threads is {limits.threads}; use at least 1")
    limits.temp_directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": limits.memory_limit,
        "threads": limits.threads,
        "temp_directory": str(limits.temp_directory),
        "preserve_insertion_order": True,
        "TimeZone": "UTC",
        # x / 0 is NULL in derived columns instead of failing the whole job at write time.
        "error_on_division_by_zero": False,
        "python_enable_replacements": False,
        "autoinstall_known_extensions": False,
        "allow_community_extensions": False,
    }
    try:
        return duckdb.connect(":memory:", config=config)
    except duckdb.Error as exc:
        raise InvalidArgument(
            f"engine limits are not valid (memory_limit {limits.memory_limit!r}, threads "
            f"{limits.threads}): {exc}"
        ) from exc
