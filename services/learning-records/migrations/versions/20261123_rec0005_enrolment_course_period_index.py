"""Enrolment index for aggregations: course and status date, covering what they read.

Replaces ix_enrolment_course_code (its prefix). On PostgreSQL the index INCLUDEs person_id,
status, institution, hours and id, so an aggregation filtered by course tags and period reads
only the matching enrolments (index-only scan) instead of the whole table; measured with
bench/indicators_bench.py (docs/indicators.md). On SQLite it is a plain two-column index.

Revision ID: rec0005
Revises: rec0003
Create Date: 2026-11-23 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rec0005"
down_revision: str | None = "rec0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrolment_course_code_status_date",
            ["course_code", "status_date"],
            unique=False,
            postgresql_include=["person_id", "status", "institution", "hours", "id"],
        )
        batch_op.drop_index(batch_op.f("ix_enrolment_course_code"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_course_code"), ["course_code"], unique=False)
        batch_op.drop_index("ix_enrolment_course_code_status_date")
