"""Indexes for aggregations: enrolments by course and date, test attempts, headcount series.

ix_enrolment_course_code_status_date replaces ix_enrolment_course_code (its prefix). On PostgreSQL the index INCLUDEs person_id,
status, institution, hours and id, so an aggregation filtered by course tags and period reads
only the matching enrolments (index-only scan) instead of the whole table; measured with
bench/indicators_bench.py (docs/indicators.md). On SQLite it is a plain two-column index.
ix_test_attempt_person_id_course_code (the test_passed filter's lookup) replaces
ix_test_attempt_person_id; ix_headcount_role_position_group lets a headcount question read only
its series (a role's, the position groups', or the institution totals).

Revision ID: rec0005
Revises: xapi0001
Create Date: 2026-11-23 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rec0005"
down_revision: str | None = "xapi0001"
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
    with op.batch_alter_table("test_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_test_attempt_person_id_course_code", ["person_id", "course_code"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_test_attempt_person_id"))
    with op.batch_alter_table("headcount", schema=None) as batch_op:
        batch_op.create_index(
            "ix_headcount_role_position_group", ["role", "position_group"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("headcount", schema=None) as batch_op:
        batch_op.drop_index("ix_headcount_role_position_group")
    with op.batch_alter_table("test_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_attempt_person_id"), ["person_id"], unique=False)
        batch_op.drop_index("ix_test_attempt_person_id_course_code")
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_course_code"), ["course_code"], unique=False)
        batch_op.drop_index("ix_enrolment_course_code_status_date")
