"""Run one service's Alembic history against a database URL.

Each service that owns tables keeps its history in ``services/<service>/migrations`` whose env.py
calls :func:`services.common.db.alembic_env.run_migrations`. Migrations run as their own step
(``aimass migrate``, a Kubernetes Job), never on import.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config

from services.common.errors import NotFound


def migrations_dir(service: str) -> Path:
    path = Path(str(resources.files("services") / service / "migrations"))
    if not (path / "env.py").is_file():
        raise NotFound(f"service {service!r} has no migrations (looked in {path})")
    return path


def alembic_config(service: str, db_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir(service)))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade_database(service: str, db_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, db_url), revision)


def downgrade_database(service: str, db_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service, db_url), revision)


async def upgrade_database_async(service: str, db_url: str, revision: str = "head") -> None:
    """For callers inside an event loop: Alembic's env runs its own loop, so use a thread."""
    await asyncio.to_thread(upgrade_database, service, db_url, revision)
