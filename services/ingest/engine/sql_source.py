"""A SQL database as a source: SQLAlchemy's synchronous engine in the calling (worker) thread, a
read-only session, results streamed (server-side cursor) a chunk at a time into Parquet files in
`workdir` with pyarrow, then a view over those files. Memory holds one chunk at most."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from pymysql.constants import FIELD_TYPE
from sqlalchemy.engine import URL, Connection, CursorResult
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import AimassError, InvalidArgument, NotFound
from services.ingest.engine import ROW_COLUMN, ViewNames, quote_ident, reserved_check
from services.ingest.engine.readers import ReadResult
from services.ingest.engine.sql_guard import (
    MYSQL_BACKENDS,
    check_query,
    connection_error,
    parse_url,
    split_table,
)

DEFAULT_CHUNK_ROWS = 50_000
CONNECT_TIMEOUT_SECONDS = 10
# MySQL/MariaDB: the socket's read timeout is the statement timeout plus this, so the server's
# own limit (a clear error) comes first and the socket's only catches a server that went silent.
READ_TIMEOUT_MARGIN_SECONDS = 5
# Errors that mean the statement ran out of time: PostgreSQL's query_canceled (with "statement
# timeout" in the text), MariaDB's max_statement_time, MySQL's max_execution_time.
_PG_CANCELED = "57014"
_MYSQL_TIMEOUT_CODES = (1969, 3024)


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
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args(url, timeout))
    chunk = source.chunk_rows or DEFAULT_CHUNK_ROWS
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise connection_error(exc, shown, password) from None
        with connection:
            _read_only(connection, url, timeout)
            statement = _statement(connection, source, alias, url.get_backend_name())
            files = _fetch(connection, statement, chunk, workdir, prefix, on_rows, sample_rows)
    except DBAPIError as exc:
        raise _query_error(exc, alias, password, timeout) from None
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


def connect_args(url: URL, timeout: float) -> dict[str, Any]:
    connect = int(min(timeout, CONNECT_TIMEOUT_SECONDS) if timeout else CONNECT_TIMEOUT_SECONDS)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": max(connect, 1)}
    if backend in MYSQL_BACKENDS:
        # PyMySQL reads the server's greeting under read_timeout, not connect_timeout: both bound
        # the connect, then _read_only sets the read timeout for the read itself. No LOAD DATA
        # LOCAL: a server must not be able to ask for the worker's files.
        return {"connect_timeout": max(connect, 1), "read_timeout": connect, "local_infile": False}
    return {"timeout": max(connect, 1)}


def _read_only(connection: Connection, url: URL, timeout: float) -> None:
    """Every later transaction of this session is read-only (and time-limited when asked)."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        if timeout:
            connection.exec_driver_sql(f"SET statement_timeout = {max(int(timeout * 1000), 1)}")
    elif backend in MYSQL_BACKENDS:
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
        if timeout and getattr(connection.dialect, "is_mariadb", False):
            # seconds, for every statement
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {timeout:.3f}")
        elif timeout:
            # MySQL 5.7.8+: milliseconds, for SELECT statements (the only kind run here)
            connection.exec_driver_sql(
                f"SET SESSION max_execution_time = {max(int(timeout * 1000), 1)}"
            )
        _mysql_read_timeout(connection, timeout + READ_TIMEOUT_MARGIN_SECONDS if timeout else None)
    else:
        connection.exec_driver_sql("PRAGMA query_only = ON")
    connection.commit()


def _mysql_read_timeout(connection: Connection, seconds: float | None) -> None:
    """PyMySQL has one read timeout for the handshake and every later read (a private attribute,
    read before each socket read): the connect timeout so far, now the read's (None: none)."""
    raw = connection.connection.dbapi_connection
    if raw is not None and hasattr(raw, "_read_timeout"):
        raw._read_timeout = seconds


def _statement(
    connection: Connection, source: pb.SqlSource, alias: str, backend: str
) -> sa.Executable:
    if source.WhichOneof("read") == "query":
        return sa.text(check_query(source.query, backend).replace(":", r"\:"))
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
    finished = False
    try:
        columns = list(result.keys())
        _check_names(columns)
        hints = _hints(connection, result)
        total = 0
        size = min(chunk, sample_rows) if sample_rows > 0 else chunk
        for rows in result.partitions(size):
            path = workdir / f"{prefix}-{len(files):05d}.parquet"
            pq.write_table(_arrow(columns, rows, hints), path, compression="zstd")
            files.append(path)
            total += len(rows)
            if on_rows is not None:
                on_rows(total)
            if 0 < sample_rows <= total:
                break
        else:
            finished = True
    finally:
        if not finished and connection.dialect.name in MYSQL_BACKENDS:
            _abandon(connection, result)
        result.close()
    return files


def _abandon(connection: Connection, result: CursorResult[Any]) -> None:
    """Stop a MySQL/MariaDB read early (a sample, a cancelled job, an error). The protocol cannot
    cancel a result, so closing PyMySQL's streaming cursor would first read and drop every row
    left; instead the result is marked done and the connection closed: the server stops the
    statement when it next writes to it."""
    pending = getattr(result.cursor, "_result", None)  # PyMySQL's unbuffered MySQLResult
    if pending is not None and hasattr(pending, "unbuffered_active"):
        pending.unbuffered_active = False
    connection.invalidate()


def _check_names(columns: list[str]) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InvalidArgument(
                f"the query returns two columns named {column!r}: give them distinct aliases"
            )
        seen.add(column)
    reserved_check(columns)


@dataclass(frozen=True)
class _Hint:
    """What the driver says about a column where the values alone cannot tell."""

    type: pa.DataType | None = None  # for a chunk in which every value is NULL
    flag: bool = False  # MySQL's BOOLEAN is TINYINT(1): 0/1 become false/true
    temporal: bool = False  # MySQL DATE/DATETIME: a zero date ('0000-00-00') comes as text


_NO_HINT = _Hint()
_MYSQL_INTEGERS = (
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
)
_MYSQL_TYPES: dict[int, pa.DataType] = {
    **dict.fromkeys(_MYSQL_INTEGERS, pa.int64()),
    **dict.fromkeys((FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE), pa.float64()),
    **dict.fromkeys((FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE), pa.date32()),
    **dict.fromkeys((FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP), pa.timestamp("us")),
    FIELD_TYPE.TIME: pa.duration("us"),
    **dict.fromkeys(
        (
            FIELD_TYPE.VARCHAR,
            FIELD_TYPE.VAR_STRING,
            FIELD_TYPE.STRING,
            FIELD_TYPE.ENUM,
            FIELD_TYPE.SET,
            FIELD_TYPE.JSON,
        ),
        pa.string(),
    ),
}
_MYSQL_TEMPORAL = (FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP)


def _hints(connection: Connection, result: CursorResult[Any]) -> list[_Hint]:
    description = getattr(result.cursor, "description", None) or []
    if connection.dialect.name not in MYSQL_BACKENDS:
        return [_NO_HINT] * len(description)
    return [
        _mysql_hint(code, length or 0, scale or 0)
        for _, code, _, length, _, scale, _ in description
    ]


def _mysql_hint(code: int, length: int, scale: int) -> _Hint:
    """PyMySQL's description: (name, type code, -, display length, -, scale, nullable)."""
    flag = code == FIELD_TYPE.TINY and length == 1
    if code in (FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
        precision = min(max(length, 1), 38)  # the display length: precision + sign and point
        return _Hint(pa.decimal128(precision, min(scale, precision)))
    kind = pa.bool_() if flag else _MYSQL_TYPES.get(code)
    return _Hint(kind, flag=flag, temporal=code in _MYSQL_TEMPORAL)


def _arrow(
    columns: list[str], rows: Sequence[Sequence[Any]], hints: Sequence[_Hint] = ()
) -> pa.Table:
    hints = list(hints) or [_NO_HINT] * len(columns)
    arrays = [
        _array(list(values), hint)
        for values, hint in zip(zip(*rows, strict=True), hints, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=columns)


def _array(values: list[Any], hint: _Hint = _NO_HINT) -> pa.Array:
    """Arrow's own inference; JSON text for documents, text for anything Arrow cannot hold."""
    if hint.temporal:  # a date PyMySQL could not parse is MySQL's zero date: no date
        values = [None if isinstance(v, str | bytes) else v for v in values]
    if hint.flag and all(v in (0, 1) for v in values if v is not None):
        values = [None if v is None else bool(v) for v in values]  # else they stay integers
    sample = next((value for value in values if value is not None), None)
    if sample is None and hint.type is not None:
        return pa.nulls(len(values), hint.type)
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


def _query_error(exc: DBAPIError, alias: str, password: str | None, timeout: float) -> AimassError:
    message = " ".join(str(exc.orig).split())[:500]
    if password:
        message = message.replace(password, "***")
    if timeout and exc.orig is not None and _timed_out(exc.orig, message):
        return InvalidArgument(
            f"source {alias!r}: the database stopped the read after sql.timeout ({timeout:g}s): "
            f"raise sql.timeout, or read less (a narrower query) ({message})"
        )
    if exc.connection_invalidated:
        return connection_error(exc, f"source {alias!r}", password)
    return InvalidArgument(f"source {alias!r}: the database refused the read: {message}")


def _timed_out(orig: BaseException, message: str) -> bool:
    state = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    code = orig.args[0] if orig.args else None
    if state == _PG_CANCELED:
        return "statement timeout" in message
    return code in _MYSQL_TIMEOUT_CODES
