"""The job's DuckDB connection: opened with the engine's limits, attached to the cancel token,
always closed, and DuckDB errors the engine did not translate mapped to the error vocabulary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from services.common.errors import AimassError, FailedPrecondition, InvalidArgument, Unavailable
from services.ingest.cancel import CancelToken, JobCancelled
from services.ingest.engine import quote_ident
from services.ingest.engine.session import EngineLimits, open_engine


@contextmanager
def job_engine(
    work_dir: Path, memory_limit: str, threads: int, cancel: CancelToken
) -> Iterator[duckdb.DuckDBPyConnection]:
    limits = EngineLimits(
        temp_directory=work_dir / "spill", memory_limit=memory_limit, threads=threads
    )
    con = open_engine(limits)
    cancel.attach(con)
    try:
        yield con
    except JobCancelled:
        raise
    except Exception as exc:
        if cancel.cancelled:
            raise JobCancelled(cancel.reason or "cancelled") from exc
        if isinstance(exc, duckdb.Error):
            raise engine_error(exc) from exc
        raise
    finally:
        cancel.attach(None)
        con.close()


def engine_error(exc: duckdb.Error) -> AimassError:
    """DuckDB errors the engine did not translate: data problems are the caller's to fix."""
    message = str(exc).split("\n")[0][:2000]
    if isinstance(exc, duckdb.OutOfMemoryException):
        return FailedPrecondition(
            f"the ingest ran out of memory ({message}); raise AIMASS_INGEST_MEMORY_LIMIT or "
            "simplify the recipe"
        )
    if isinstance(exc, duckdb.IOException | duckdb.HTTPException):
        return Unavailable(f"could not read or write data: {message}")
    return InvalidArgument(f"the recipe cannot run on this data: {message}")


def sql_string(value: str) -> str:
    """A SQL string literal, for paths ingest made itself (views cannot take parameters)."""
    return "'" + value.replace("'", "''") + "'"


def quoted_columns(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(name) for name in names)


def limited(con: duckdb.DuckDBPyConnection, view: str, rows: int, name: str) -> str:
    """A view of the first ``rows`` rows of ``view`` (both names are ingest's own)."""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS "
        f"SELECT * FROM {quote_ident(view)} LIMIT {int(rows)}"
    )
    return name


def parquet_view(con: duckdb.DuckDBPyConnection, files: list[Path]) -> str:
    listed = ", ".join(sql_string(str(path)) for path in files)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW stored_parts AS SELECT * FROM read_parquet([{listed}])"
    )
    return "stored_parts"
