"""Alembic environment of the registry's database."""

from services.common.db.alembic_env import run_migrations
from services.registry.models import Base

run_migrations(Base.metadata)
