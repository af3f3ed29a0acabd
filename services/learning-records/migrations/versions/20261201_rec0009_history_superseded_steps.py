"""History: store superseded status steps only; the current step is the enrolment row's (#16).

Every new enrolment wrote a status-history row repeating its own status and status_date (a
fifth of the in-database bound of a bulk ingest: one more row, its index and foreign-key
check per record). From this revision a row is written when a write leaves a step
(learning_records/enrolments/history.py), and a timeline is the rows plus the enrolment's
current step unless the latest row already holds that status (the status_date moved since
it was reached, which the row keeps).

Upgrade deletes, set-based, the one row per enrolment that duplicates its current state: the
latest row (by seq, then id) with the enrolment's status and status_date. A latest row with the
same status and another date stays (it keeps the date the status was reached). Every timeline
reads as before. ("Latest": no row of the enrolment with a greater seq, or the same seq
and a greater id.)

Downgrade writes the current step back as a row for each enrolment whose latest row does not
hold its status, with the enrolment's seq (the seq it was reached at is not kept; the order of
the steps is).

Revision ID: rec0009_history
Revises: rec0008_ingest
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rec0009_history"
down_revision: str | None = "rec0008_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        """DELETE FROM enrolment_status_change WHERE id IN (
            SELECT h.id FROM enrolment_status_change h
            JOIN enrolment e ON e.id = h.enrolment_id
            WHERE h.status = e.status AND h.status_date = e.status_date AND NOT EXISTS (
                SELECT 1 FROM enrolment_status_change later
                WHERE later.enrolment_id = h.enrolment_id
                  AND (later.seq > h.seq OR (later.seq = h.seq AND later.id > h.id))))"""
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        """INSERT INTO enrolment_status_change (enrolment_id, status, status_date, seq)
        SELECT e.id, e.status, e.status_date, e.seq FROM enrolment e
        WHERE NOT EXISTS (
            SELECT 1 FROM enrolment_status_change h
            WHERE h.enrolment_id = e.id AND h.status = e.status AND NOT EXISTS (
                SELECT 1 FROM enrolment_status_change later
                WHERE later.enrolment_id = h.enrolment_id
                  AND (later.seq > h.seq OR (later.seq = h.seq AND later.id > h.id))))"""
    )
