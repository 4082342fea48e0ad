"""Fixtures every test folder shares: where the real NATS, PostgreSQL and MariaDB are, fresh
databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy.engine import make_url

PG_URL_ENV = "AIMASS_TEST_PG_URL"
NATS_URL_ENV = "AIMASS_TEST_NATS_URL"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MYSQL_URL_ENV = "AIMASS_TEST_MYSQL_URL"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def pg_test_url() -> str:
    return os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)


def mysql_test_url() -> str:
    """The MariaDB (or MySQL) test server: a user that may create tables, users and functions."""
    return os.environ.get(MYSQL_URL_ENV, DEFAULT_MYSQL_URL)


def nats_url() -> str:
    return os.environ.get(NATS_URL_ENV, "nats://127.0.0.1:4222")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database(prefix: str) -> str:
    """A new empty database on the test server; returns its SQLAlchemy URL."""
    base = make_url(pg_test_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_asyncpg_dsn(pg_test_url()), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(_asyncpg_dsn(pg_test_url()), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def delete_streams(url: str, prefix: str) -> None:
    """Remove the JetStream streams a test namespace made (names start with ``prefix``)."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        names: list[str | None] = []
        while page := await js.streams_info(offset=len(names)):
            names += [info.config.name for info in page]
        for name in names:
            if name and name.startswith(prefix):
                try:
                    await js.delete_stream(name)
                except NotFoundError:
                    pass
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The MariaDB test server's SQLAlchemy URL (AIMASS_TEST_MYSQL_URL)."""
    return mysql_test_url()


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """An empty PostgreSQL database for one test, dropped afterwards."""
    url = await create_pg_database("aimass_t")
    yield url
    await drop_pg_database(url)
