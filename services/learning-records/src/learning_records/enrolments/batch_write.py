"""Writing a played batch of learning events: every table in bulk, the change feed in order."""

from __future__ import annotations

import json

from sqlalchemy import bindparam, update
from sqlmodel import Session

from learning_records.bulk import insert_rows, is_postgres
from learning_records.changes.service import ChangeFeed
from learning_records.enrolments.batch_plan import Plan
from learning_records.enrolments.history import record_stored_steps
from learning_records.enrolments.models import (
    AppliedLearningEvent,
    Enrolment,
    EnrolmentStatusChange,
)
from learning_records.models import utcnow
from learning_records.results.models import TestAttempt

E = Enrolment.__table__  # type: ignore[attr-defined]


def write_plan(session: Session, feed: ChangeFeed, plan: Plan) -> None:
    """Write what the plan decided: enrolments, history, events, attempts, change feed."""
    now = utcnow()
    postgres = is_postgres(session)
    touched = list({id(t): t for _seq, _op, t in plan.enrolment_changes}.values())
    new = [t for t in touched if t.created]
    ids = insert_rows(
        session,
        Enrolment,
        [
            {
                "source_system": t.source_system,
                "external_id": t.external_id,
                "content_hash": t.content_hash,
                "seq": t.seq,
                "created_at": now,
                "updated_at": now,
                "person_id": t.person_id,
                "course_code": t.course_code,
                "session_code": t.session_code,
                "institution": t.institution,
                "status": t.state["status"],
                "enrolled_on": None,
                "status_date": t.state["status_date"],
                "completed_on": t.state["completed_on"],
                "hours": t.state["hours"],
            }
            for t in new
        ],
        returning_ids=True,
    )
    for target, new_id in zip(new, ids, strict=True):
        target.id = new_id
    moved = [t for t in touched if not t.created]
    # The stored steps the batch leaves, read from the rows before they move.
    record_stored_steps(session, [t.id for t in plan.stored_steps if t.id is not None])
    if moved:
        session.execute(
            update(E)
            .where(E.c.id == bindparam("target_id"))
            .values(
                status=bindparam("new_status"),
                status_date=bindparam("new_status_date"),
                completed_on=bindparam("new_completed_on"),
                hours=bindparam("new_hours"),
                seq=bindparam("new_seq"),
                updated_at=bindparam("new_updated_at"),
            ),
            [
                {
                    "target_id": t.id,
                    "new_status": t.state["status"],
                    "new_status_date": t.state["status_date"],
                    "new_completed_on": t.state["completed_on"],
                    "new_hours": t.state["hours"],
                    "new_seq": t.seq,
                    "new_updated_at": now,
                }
                for t in moved
            ],
        )
    insert_rows(
        session,
        EnrolmentStatusChange,
        [
            {"enrolment_id": t.id, "status": status, "status_date": day, "seq": seq}
            for t, status, day, seq in plan.history
        ],
    )
    event_ids = insert_rows(
        session,
        AppliedLearningEvent,
        [
            {
                "source_system": a.event.source_system,
                "external_id": a.event.external_id,
                "content_hash": a.digest,
                "seq": a.event_seq,
                "created_at": now,
                "updated_at": now,
                "enrolment_id": a.target.id,
                "status": a.event.status,
                "occurred_at": a.event.occurred_at,
                "hours": a.event.hours,
                "score": a.event.score,
                "passed": a.event.passed,
                "created_enrolment": a.created,
                "prior_state": json.dumps(a.prior) if postgres else a.prior,
            }
            for a in plan.applied
        ],
        returning_ids=True,
    )
    for applied, event_id in zip(plan.applied, event_ids, strict=True):
        applied.id = event_id
    attempts = [a for a in plan.applied if a.attempt_seq is not None]
    attempt_ids = insert_rows(
        session,
        TestAttempt,
        [
            {
                "source_system": a.event.source_system,
                "external_id": a.event.external_id,
                "content_hash": a.digest,
                "seq": a.attempt_seq,
                "created_at": now,
                "updated_at": now,
                "person_id": a.person_id,
                "course_code": a.event.course_code,
                "institution": a.event.institution,
                "attempted_on": a.event.occurred_at.date(),
                "score": a.event.score,
                "max_score": a.event.max_score,
                "passed": a.event.passed,
                "learning_event_id": a.id,
            }
            for a in attempts
        ],
        returning_ids=True,
    )
    for seq, op, target in plan.enrolment_changes:
        feed.add(seq, "enrolment", op, target.id)
    for applied in plan.applied:
        feed.add(applied.event_seq, "learning_event", "create", applied.id)
    for applied, attempt_id in zip(attempts, attempt_ids, strict=True):
        assert applied.attempt_seq is not None
        feed.add(applied.attempt_seq, "test_attempt", "create", attempt_id)
