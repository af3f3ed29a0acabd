"""Course tags: programme tags of courses, pushed from the catalog, for aggregation filters.

Revision ID: rec0003
Revises: rec0002
Create Date: 2026-11-23 09:10:23.412143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec0003"
down_revision: str | None = "rec0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "course_tag",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_code", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_tag")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_course_tag_source_system_external_id")
        ),
    )
    with op.batch_alter_table("course_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_tag_course_code"), ["course_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_course_tag_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_course_tag_tag"), ["tag"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("course_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_tag_tag"))
        batch_op.drop_index(batch_op.f("ix_course_tag_seq"))
        batch_op.drop_index(batch_op.f("ix_course_tag_course_code"))

    op.drop_table("course_tag")
