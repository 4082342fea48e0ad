"""A SQL database as a source: SQLAlchemy's synchronous engine in the calling (worker) thread, a
read-only session, results streamed (server-side cursor) a chunk at a time into Parquet files in
`workdir` with pyarrow, then a view over those files. Memory holds one chunk at most."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import AimassError, InvalidArgument, NotFound
from services.ingest.engine import ROW_COLUMN, ViewNames, quote_ident, reserved_check
from services.ingest.engine.readers import ReadResult
from services.ingest.engine.sql_guard import check_query, connection_error, parse_url, split_table

DEFAULT_CHUNK_ROWS = 50_000
CONNECT_TIMEOUT_SECONDS = 10


def read_sql(
    con: duckdb.DuckDBPyConnection,
    alias: str,
    source: pb.SqlSource,
    password: str | None,
    workdir: Path,
    prefix: str,
    on_rows: Callable[[int], None] | None = None,
    sample_rows: int = 0,
) -> ReadResult:
    """Read a table or one SELECT; `on_rows(total)` after every chunk (it may raise to stop)."""
    kind = source.WhichOneof("read")
    if kind is None or source.chunk_rows < 0:
        raise InvalidArgument(
            f"source {alias!r}: give sql.table or sql.query (and chunk_rows >= 0)"
        )
    url, shown = parse_url(source.url, source.credentials.username, password)
    timeout = source.timeout.ToTimedelta().total_seconds() if source.HasField("timeout") else 0.0
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, timeout))
    chunk = source.chunk_rows or DEFAULT_CHUNK_ROWS
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise connection_error(exc, shown, password) from None
        with connection:
            _read_only(connection, url, timeout)
            statement = _statement(connection, source, alias)
            files = _fetch(connection, statement, chunk, workdir, prefix, on_rows, sample_rows)
    except DBAPIError as exc:
        raise _query_error(exc, alias, password) from None
    finally:
        engine.dispose()
    if not files:
        raise InvalidArgument(f"source {alias!r}: the {kind} has no rows")
    name = ViewNames(prefix).next()
    relation = con.read_parquet([str(path) for path in files], union_by_name=True)
    relation.select(f"row_number() OVER () - 1 AS {quote_ident(ROW_COLUMN)}, *").create_view(name)
    return ReadResult(name, _resolved(source, chunk), 0)


def _resolved(source: pb.SqlSource, chunk: int) -> pb.SqlSource:
    resolved = pb.SqlSource()
    resolved.CopyFrom(source)
    resolved.chunk_rows = chunk
    resolved.credentials.ClearField("secret")
    return resolved


def _connect_args(url: URL, timeout: float) -> dict[str, Any]:
    connect = int(min(timeout, CONNECT_TIMEOUT_SECONDS) if timeout else CONNECT_TIMEOUT_SECONDS)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": max(connect, 1)}
    if backend in ("mysql", "mariadb"):
        args: dict[str, Any] = {"connect_timeout": max(connect, 1)}
        if timeout:
            args["read_timeout"] = max(int(timeout), 1)
        return args
    return {"timeout": max(connect, 1)}


def _read_only(connection: Connection, url: URL, timeout: float) -> None:
    """Every later transaction of this session is read-only (and time-limited when asked)."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        if timeout:
            connection.exec_driver_sql(f"SET statement_timeout = {max(int(timeout * 1000), 1)}")
    elif backend in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    else:
        connection.exec_driver_sql("PRAGMA query_only = ON")
    connection.commit()


def _statement(connection: Connection, source: pb.SqlSource, alias: str) -> sa.Executable:
    if source.WhichOneof("read") == "query":
        return sa.text(check_query(source.query).replace(":", r"\:"))
    schema, name = split_table(source.table)
    inspector = sa.inspect(connection)
    try:
        found = inspector.has_table(name, schema=schema) or name in inspector.get_view_names(
            schema=schema
        )
    except NoSuchTableError:
        found = False
    except DBAPIError:
        connection.rollback()
        found = False
    if not found:
        raise NotFound(f"source {alias!r}: table {source.table!r} does not exist (or is hidden)")
    connection.rollback()  # the inspection's transaction; the read starts a fresh read-only one
    return sa.select(sa.text("*")).select_from(sa.table(name, schema=schema))


def _fetch(
    connection: Connection,
    statement: sa.Executable,
    chunk: int,
    workdir: Path,
    prefix: str,
    on_rows: Callable[[int], None] | None,
    sample_rows: int,
) -> list[Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    options = connection.execution_options(stream_results=True, max_row_buffer=chunk)
    result = options.execute(statement)
    files: list[Path] = []
    try:
        columns = list(result.keys())
        _check_names(columns)
        total = 0
        size = min(chunk, sample_rows) if sample_rows > 0 else chunk
        for rows in result.partitions(size):
            path = workdir / f"{prefix}-{len(files):05d}.parquet"
            pq.write_table(_arrow(columns, rows), path, compression="zstd")
            files.append(path)
            total += len(rows)
            if on_rows is not None:
                on_rows(total)
            if 0 < sample_rows <= total:
                break
    finally:
        result.close()
    return files


def _check_names(columns: list[str]) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InvalidArgument(
                f"the query returns two columns named {column!r}: give them distinct aliases"
            )
        seen.add(column)
    reserved_check(columns)


def _arrow(columns: list[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    arrays = [_array(list(values)) for values in zip(*rows, strict=True)]
    return pa.Table.from_arrays(arrays, names=columns)


def _array(values: list[Any]) -> pa.Array:
    """Arrow's own inference; JSON text for documents, text for anything Arrow cannot hold."""
    sample = next((value for value in values if value is not None), None)
    if isinstance(sample, dict | list):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values])
    if sample is None or isinstance(sample, bool | int | float | str | bytes | Decimal):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    elif isinstance(sample, datetime.date | datetime.time | datetime.timedelta):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _query_error(exc: DBAPIError, alias: str, password: str | None) -> AimassError:
    message = " ".join(str(exc.orig).split())[:500]
    if password:
        message = message.replace(password, "***")
    if exc.connection_invalidated:
        return connection_error(exc, f"source {alias!r}", password)
    return InvalidArgument(f"source {alias!r}: the database refused the read: {message}")
