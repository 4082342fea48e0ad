"""check_connection: can ingest reach a source with these credentials? Reads no data."""

from __future__ import annotations

import asyncio

import fsspec
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from aimass.ingest.v1 import ingest_pb2 as pb
from services.common.errors import FailedPrecondition, Unavailable
from services.ingest.engine.sql_guard import connection_error, parse_url
from services.ingest.engine.sql_source import connect_args
from services.ingest.urls import local_path

PROBE_TIMEOUT_SECONDS = 10


def _probe_sql(source: pb.SqlSource, password: str | None) -> None:
    url, shown = parse_url(source.url, source.credentials.username, password)
    engine = sa.create_engine(
        url, poolclass=NullPool, connect_args=connect_args(url, PROBE_TIMEOUT_SECONDS)
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise connection_error(exc, shown, password) from None
    finally:
        engine.dispose()


def _probe_file(source: pb.FileSource, storage_options: dict[str, str]) -> None:
    url = source.url
    path = local_path(url)
    if path is not None:
        fs, pattern = fsspec.filesystem("file"), path
    else:
        fs, pattern = fsspec.core.url_to_fs(url, **storage_options)
    try:
        found = fs.glob(pattern) if any(c in pattern for c in "*?[") else fs.exists(pattern)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"cannot list {url}: {str(exc)[:300]}") from None
    if not found:
        raise FailedPrecondition(f"nothing exists at {url}; check the path")


async def probe(source: pb.FileSource | pb.SqlSource, secret: str | None) -> None:
    if isinstance(source, pb.SqlSource):
        await asyncio.to_thread(_probe_sql, source, secret)
        return
    options = dict(source.storage_options)
    if secret is not None:
        options["secret"] = secret
        if source.credentials.username:
            options["key"] = source.credentials.username
    await asyncio.to_thread(_probe_file, source, options)
