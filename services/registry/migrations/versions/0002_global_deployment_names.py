"""deployment names unique across projects

The predictor serves deployments by name alone, so two projects deploying the same name would
reach one model. A database that already holds such names is refused with the names to rename.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    shared = (
        op.get_bind()
        .execute(sa.text("SELECT name FROM deployments GROUP BY name HAVING count(*) > 1"))
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            f"deployment names used in more than one project: {sorted(shared)}; rename (or "
            "delete and purge) all but one of each, since the predictor serves deployments by "
            "name, then migrate again"
        )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index("uq_deployments_name", ["name"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("uq_deployments_name")
