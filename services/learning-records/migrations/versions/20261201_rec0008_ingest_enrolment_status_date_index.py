"""Ingest: drop ix_enrolment_status_date, the enrolment index no question needs (issue #16).

Every new enrolment wrote seven index entries; this one (status_date alone) was the only one
whose readers do about as well without it. On 1,000,000 enrolments (EXPLAIN ANALYZE of every
read that touches enrolment; bench/README-ingest.md): a question filtered by a period alone of
a quarter or a year (an aggregation, a page of enrolments) matches 3-15 % of the table and now
scans it sequentially in about the bitmap scan's time (aggregation over a year 189 -> 205 ms,
the page's count over a quarter 82 -> 131 ms); a course plus period is served by
ix_enrolment_course_code_status_date, a restricted client by ix_enrolment_institution, the HR
pull by ix_enrolment_institution and ix_enrolment_seq. What got slower: a period of days alone
and the retention count (`POST /v1/privacy/retention`, occasional) now scan the table (about
0.1 s per million enrolments) instead of an index range.

Revision ID: rec0008_ingest
Revises: rec0007_lms
Create Date: 2026-12-01 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rec0008_ingest"
down_revision: str | None = "rec0007_lms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolment_status_date")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.create_index("ix_enrolment_status_date", ["status_date"], unique=False)
