"""An employment's leaving reason, so turnover can be split into avoidable and not.

Revision ID: rec0007_strategies
Revises: rec0007_hr
Create Date: 2026-12-01 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec0007_strategies"
down_revision: str | None = "rec0007_hr"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("employment") as batch:
        batch.add_column(sa.Column("leaving_reason", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("employment") as batch:
        batch.drop_column("leaving_reason")
