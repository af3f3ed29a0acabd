"""The catalog copy: latest snapshots of catalog resources, course tags, and the sync state.

learning-records follows the catalog's change feed into these tables (reference/sync.py), so
aggregations filter by course tags and writes are checked against the catalog's codes.

Revision ID: rec0006_refdata
Revises: xapi0002
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec0006_refdata"
down_revision: str | None = "xapi0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "catalog_entry",
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "code", name=op.f("pk_catalog_entry")),
    )
    op.create_table(
        "catalog_course_tag",
        sa.Column("tag", sa.String(length=120), nullable=False),
        sa.Column("course_code", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tag", "course_code", name=op.f("pk_catalog_course_tag")),
    )
    op.create_table(
        "catalog_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_change_id", sa.BigInteger(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_sync_state")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("catalog_sync_state")
    op.drop_table("catalog_course_tag")
    op.drop_table("catalog_entry")
