"""Async SQLAlchemy for every service that owns tables: engines, sessions, types, migrations."""

from services.common.db.engine import (
    create_engine,
    create_sessionmaker,
    database_unavailable,
    is_postgres,
)
from services.common.db.migrations import (
    downgrade_database,
    migrations_dir,
    upgrade_database,
    upgrade_database_async,
)
from services.common.db.types import NAMING_CONVENTION, UtcDateTime, utcnow

__all__ = [
    "NAMING_CONVENTION",
    "UtcDateTime",
    "create_engine",
    "create_sessionmaker",
    "database_unavailable",
    "downgrade_database",
    "is_postgres",
    "migrations_dir",
    "upgrade_database",
    "upgrade_database_async",
    "utcnow",
]
