"""Alembic environment of ingest's database."""

from services.common.db.alembic_env import run_migrations
from services.ingest.models import Base

run_migrations(Base.metadata)
