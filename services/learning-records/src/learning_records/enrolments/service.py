"""Enrolment state from learning events (xAPI statements and the like), and undoing them.

Public entry points for other parts of this service (the xAPI LRS in `learning_records.xapi`):

- `apply_learning_events(session, events)` (in `batch.py`) records a batch of events in one
  set-based write and moves the matching enrolments' status, hours and test results; replaying
  the same event changes nothing; a completion long after an earlier one is a retake (a new
  enrolment). `apply_learning_event(session, event)` is a batch of one.
- `revert_learning_event(session, source_system, external_id)` undoes one event (e.g. a voided
  statement): the enrolment is recomputed from its remaining events, or removed if the event
  created it and nothing else refers to it.

Both only flush: the caller's session owns the transaction. Both append to the change feed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from learning_records.changes.service import change_feed
from learning_records.enrolments.batch import apply_learning_events
from learning_records.enrolments.events import (
    STATE_FIELDS,
    LearningEvent,
    LearningEventOutcome,
    decode_state,
    encode_state,
    event_state,
)
from learning_records.enrolments.history import leaves_step, record_stored_steps
from learning_records.enrolments.models import AppliedLearningEvent, Enrolment
from learning_records.models import utcnow
from learning_records.results.models import TestAttempt
from pilnveide_kit.auth import Principal

__all__ = [
    "LearningEvent",
    "LearningEventOutcome",
    "apply_learning_event",
    "apply_learning_events",
    "revert_learning_event",
]


def apply_learning_event(
    session: Session,
    event: LearningEvent,
    *,
    pepper: str | None = None,
    principal: Principal | None = None,
) -> LearningEventOutcome:
    """Record one learning event and move its enrolment; a replay changes nothing.

    `pepper` defaults to the service settings' RECORDS_PSEUDONYM_PEPPER; `principal`, when
    given, limits the event to the client's institutions (the event must name one). A batch of
    one for `batch.apply_learning_events` (the rules, retakes included, live there).
    """
    return apply_learning_events(session, [event], pepper=pepper, principal=principal)[0]


def revert_learning_event(
    session: Session, source_system: str, external_id: str
) -> LearningEventOutcome:
    """Undo one applied event: recompute its enrolment from the events that remain."""
    applied = session.exec(
        select(AppliedLearningEvent).where(
            col(AppliedLearningEvent.source_system) == source_system,
            col(AppliedLearningEvent.external_id) == external_id,
        )
    ).first()
    if applied is None:
        return LearningEventOutcome("not_found", "no applied event has this source id")
    feed = change_feed(session)
    enrolment = session.get(Enrolment, applied.enrolment_id)
    events = list(
        session.exec(
            select(AppliedLearningEvent)
            .where(col(AppliedLearningEvent.enrolment_id) == applied.enrolment_id)
            .order_by(col(AppliedLearningEvent.id))
        ).all()
    )
    attempt_ids = session.exec(
        select(TestAttempt.id).where(col(TestAttempt.learning_event_id) == applied.id)
    ).all()
    session.execute(delete(TestAttempt).where(col(TestAttempt.learning_event_id) == applied.id))
    feed.record_many("test_attempt", "delete", attempt_ids)
    remaining = [e for e in events if e.id != applied.id]
    base_created = events[0].created_enrolment
    base: dict[str, Any] = dict(events[0].prior_state)
    session.delete(applied)
    feed.record("learning_event", "delete", applied.id)
    assert enrolment is not None  # the foreign key keeps the enrolment while events point at it
    if base_created and not remaining:
        session.delete(enrolment)
        seq = feed.record("enrolment", "delete", enrolment.id)
        session.flush()
        feed.flush()
        return LearningEventOutcome("accepted", enrolment_id=enrolment.id, seq=seq)
    state: dict[str, Any] | None = None if base_created else decode_state(base)
    for other in remaining:
        other.created_enrolment = state is None
        other.prior_state = {} if state is None else encode_state(state)
        encoded = None if state is None else encode_state(state)
        state = event_state(_event_from_record(other, enrolment), encoded)
        session.add(other)
    assert state is not None  # base_created with nothing remaining returned above
    current = {"status": enrolment.status, "status_date": enrolment.status_date}
    if leaves_step(current, decode_state(state)):
        record_stored_steps(session, [applied.enrolment_id])  # the step it leaves, first
    _set_state(enrolment, state)
    enrolment.seq = feed.record("enrolment", "update", enrolment.id)
    enrolment.updated_at = utcnow()
    session.add(enrolment)
    session.flush()
    feed.flush()
    return LearningEventOutcome("accepted", enrolment_id=enrolment.id, seq=enrolment.seq)


def _snapshot(enrolment: Enrolment) -> dict[str, Any]:
    return encode_state({name: getattr(enrolment, name) for name in STATE_FIELDS})


def _set_state(enrolment: Enrolment, state: dict[str, Any]) -> None:
    decoded = decode_state(state)
    for name in STATE_FIELDS:
        setattr(enrolment, name, decoded.get(name))


def _event_from_record(record: AppliedLearningEvent, enrolment: Enrolment) -> LearningEvent:
    return LearningEvent(
        source_system=record.source_system,
        external_id=record.external_id,
        course_code=enrolment.course_code,
        occurred_at=record.occurred_at,
        status=record.status,
        hours=record.hours,
    )
