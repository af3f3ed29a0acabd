"""A strategy indicator's "Rezultāts" and a plan's footnotes, which the loader used to drop.

Revision ID: cat0007_strategies
Revises: cat0007_hr
Create Date: 2026-12-01 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cat0007_strategies"
down_revision: str | None = "cat0007_hr"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("footnotes", sa.JSON(), nullable=True))
    with op.batch_alter_table("indicator") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("result")
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("footnotes")
