"""A stored result's summary (value, status… without breakdowns) beside its full JSON.

Plan lists and plan progress read only these top-level figures; with them stored apart they no
longer read and parse every whole result (all breakdown rows). Rows stored before this revision
have no summary (null): they are read from their full JSON until computed again.

Revision ID: ind0008_summaries
Revises: ind0007_perf_ind
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ind0008_summaries"
down_revision: str | None = "ind0007_perf_ind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("indicator_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("indicator_result", schema=None) as batch_op:
        batch_op.drop_column("summary")
