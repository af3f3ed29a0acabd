"""Stored indicator results, shared by replicas and kept at the feed head in the background.

Revision ID: ind0007_perf_ind
Revises: ind0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "ind0007_perf_ind"
down_revision: str | None = "ind0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "indicator_result",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("cutoff_seq", sa.Integer(), nullable=True),
        sa.Column("catalog_version", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_indicator_result")),
    )
    with op.batch_alter_table("indicator_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_result_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_indicator_result_read_at"), ["read_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("indicator_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_result_read_at"))
        batch_op.drop_index(batch_op.f("ix_indicator_result_code"))
    op.drop_table("indicator_result")
