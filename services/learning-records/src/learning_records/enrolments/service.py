"""Enrolment state from learning events (xAPI statements and the like), and undoing them.

Public entry points for other parts of this service (the xAPI LRS in `learning_records.xapi`):

- `apply_learning_event(session, event)` records one event and moves the matching enrolment's
  status, hours and test results; replaying the same event changes nothing.
- `revert_learning_event(session, source_system, external_id)` undoes one event (e.g. a voided
  statement): the enrolment is recomputed from its remaining events, or removed if the event
  created it and nothing else refers to it.

Both only flush: the caller's session owns the transaction. Both append to the change feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from learning_records.changes.service import change_feed
from learning_records.enrolments.models import (
    STATUSES,
    AppliedLearningEvent,
    Enrolment,
    EnrolmentStatusChange,
)
from learning_records.hashing import content_hash
from learning_records.models import utcnow
from learning_records.people.pseudonyms import InvalidPersonalCode
from learning_records.people.service import PersonRef, UnknownPerson, resolve_person
from learning_records.results.models import TestAttempt
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.auth import Principal

OutcomeStatus = Literal["accepted", "unchanged", "conflict", "rejected", "not_found"]


@dataclass(frozen=True)
class LearningEvent:
    """One learning event about a person and a course, identified by its source id.

    Name the person by exactly one of `personal_code` (validated, pseudonymised, never stored),
    `pseudonym`, or `person_source_system` + `person_external_id` (an HR id sent earlier as a
    person). `status` is an enrolment status (registered, attended, no_show, cancelled,
    completed, failed) or None for an event that only carries a result. `passed` (with an
    optional `score`) records a knowledge-test attempt. Name the enrolment with
    `enrolment_external_id` (in `enrolment_source_system`, default the event's source system);
    otherwise the person's latest enrolment in the course (and session) is used, or created.
    """

    source_system: str
    external_id: str
    course_code: str
    occurred_at: datetime
    status: str | None = None
    personal_code: str | None = field(default=None, repr=False)
    pseudonym: str | None = None
    person_source_system: str | None = None
    person_external_id: str | None = None
    session_code: str | None = None
    institution: str | None = None
    hours: float | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    enrolment_source_system: str | None = None
    enrolment_external_id: str | None = None


@dataclass(frozen=True)
class LearningEventOutcome:
    """What became of an event: accepted, unchanged (a replay), conflict, rejected, not_found."""

    status: OutcomeStatus
    reason: str | None = None
    enrolment_id: int | None = None
    event_id: int | None = None
    seq: int | None = None


_STATE_FIELDS = ("status", "status_date", "completed_on", "hours")


def apply_learning_event(
    session: Session,
    event: LearningEvent,
    *,
    pepper: str | None = None,
    principal: Principal | None = None,
) -> LearningEventOutcome:
    """Record one learning event and move its enrolment; a replay changes nothing.

    `pepper` defaults to the service settings' RECORDS_PSEUDONYM_PEPPER; `principal`, when
    given, limits the event to the client's institutions (the event must name one).
    """
    if event.status is not None and event.status not in STATUSES:
        return LearningEventOutcome("rejected", f"status must be one of {', '.join(STATUSES)}")
    if event.status is None and event.passed is None and event.hours is None:
        return LearningEventOutcome("rejected", "the event carries no status, result or hours")
    if principal is not None and principal.restricted and not principal.can_see(event.institution):
        return LearningEventOutcome("rejected", "the institution is outside the client's access")
    ref = PersonRef(
        personal_code=event.personal_code,
        pseudonym=event.pseudonym,
        source_system=event.person_source_system,
        external_id=event.person_external_id,
    )
    feed = change_feed(session)
    try:
        person_id = resolve_person(session, ref, pepper or _default_pepper())
    except (InvalidPersonalCode, UnknownPerson) as exc:
        return LearningEventOutcome("rejected", str(exc))
    digest = content_hash(_event_content(event, person_id))
    existing = session.exec(
        select(AppliedLearningEvent).where(
            col(AppliedLearningEvent.source_system) == event.source_system,
            col(AppliedLearningEvent.external_id) == event.external_id,
        )
    ).first()
    if existing is not None:
        if existing.content_hash == digest:
            return LearningEventOutcome(
                "unchanged", enrolment_id=existing.enrolment_id, event_id=existing.id
            )
        return LearningEventOutcome(
            "conflict",
            "this source id was already used for a different event; revert it first",
            enrolment_id=existing.enrolment_id,
            event_id=existing.id,
        )
    restricted_to = event.institution if principal is not None and principal.restricted else None
    enrolment = _target_enrolment(session, event, person_id, restricted_to)
    created = enrolment is None
    if enrolment is None:
        enrolment = Enrolment(
            person_id=person_id,
            course_code=event.course_code,
            session_code=event.session_code,
            institution=event.institution,
            source_system=event.enrolment_source_system or event.source_system,
            external_id=event.enrolment_external_id or f"event:{event.external_id}",
            content_hash=digest,
            seq=0,
            **_event_state(event, None),
        )
        prior: dict[str, Any] = {}
    else:
        prior = _snapshot(enrolment)
        _set_state(enrolment, _event_state(event, prior))
    seq = feed.record("enrolment", "create" if created else "update", "?")
    enrolment.seq = seq
    enrolment.updated_at = utcnow()
    session.add(enrolment)
    session.flush()
    feed.set_key(seq, enrolment.id)
    if created or prior.get("status") != enrolment.status:
        _append_status(session, enrolment, seq)
    applied = AppliedLearningEvent(
        source_system=event.source_system,
        external_id=event.external_id,
        content_hash=digest,
        seq=feed.record("learning_event", "create", "?"),
        enrolment_id=_id(enrolment.id),
        status=event.status,
        occurred_at=event.occurred_at,
        hours=event.hours,
        score=event.score,
        passed=event.passed,
        created_enrolment=created,
        prior_state=prior,
    )
    session.add(applied)
    session.flush()
    feed.set_key(applied.seq, applied.id)
    if event.passed is not None:
        attempt = TestAttempt(
            source_system=event.source_system,
            external_id=event.external_id,
            content_hash=digest,
            seq=feed.record("test_attempt", "create", "?"),
            person_id=person_id,
            course_code=event.course_code,
            institution=event.institution,
            attempted_on=event.occurred_at.date(),
            score=event.score,
            max_score=event.max_score,
            passed=event.passed,
            learning_event_id=applied.id,
        )
        session.add(attempt)
        session.flush()
        feed.set_key(attempt.seq, attempt.id)
    feed.flush()
    return LearningEventOutcome("accepted", enrolment_id=enrolment.id, event_id=applied.id, seq=seq)


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
    before = enrolment.status
    state: dict[str, Any] | None = None if base_created else _decode_state(base)
    for other in remaining:
        other.created_enrolment = state is None
        other.prior_state = {} if state is None else _encode_state(state)
        encoded = None if state is None else _encode_state(state)
        state = _event_state(_event_from_record(other, enrolment), encoded)
        session.add(other)
    assert state is not None  # base_created with nothing remaining returned above
    _set_state(enrolment, state)
    enrolment.seq = feed.record("enrolment", "update", enrolment.id)
    enrolment.updated_at = utcnow()
    session.add(enrolment)
    session.flush()
    if enrolment.status != before:
        _append_status(session, enrolment, enrolment.seq)
    feed.flush()
    return LearningEventOutcome("accepted", enrolment_id=enrolment.id, seq=enrolment.seq)


def _default_pepper() -> str:
    return LearningRecordsSettings().pseudonym_pepper


def _id(value: int | None) -> int:
    assert value is not None, "the row has been flushed"
    return value


def _event_content(event: LearningEvent, person_id: int) -> dict[str, Any]:
    content = {k: v for k, v in vars(event).items() if v is not None}
    for name in ("personal_code", "pseudonym", "person_source_system", "person_external_id"):
        content.pop(name, None)
    content["person_id"] = person_id
    return content


def _target_enrolment(
    session: Session, event: LearningEvent, person_id: int, institution: str | None
) -> Enrolment | None:
    """The enrolment an event moves; a restricted client's only at its event's institution."""
    if event.enrolment_external_id:
        named = select(Enrolment).where(
            col(Enrolment.source_system) == (event.enrolment_source_system or event.source_system),
            col(Enrolment.external_id) == event.enrolment_external_id,
        )
        if institution is not None:
            named = named.where(col(Enrolment.institution) == institution)
        return session.exec(named).first()
    query = select(Enrolment).where(
        col(Enrolment.person_id) == person_id, col(Enrolment.course_code) == event.course_code
    )
    if institution is not None:
        query = query.where(col(Enrolment.institution) == institution)
    if event.session_code:
        query = query.where(col(Enrolment.session_code) == event.session_code)
    return session.exec(
        query.order_by(col(Enrolment.status_date).desc(), col(Enrolment.id).desc())
    ).first()


def _snapshot(enrolment: Enrolment) -> dict[str, Any]:
    return _encode_state({name: getattr(enrolment, name) for name in _STATE_FIELDS})


def _encode_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in state.items()}


def _decode_state(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    for name in ("status_date", "completed_on"):
        if isinstance(out.get(name), str):
            out[name] = date.fromisoformat(out[name])
    return out


def _event_state(event: LearningEvent, prior: dict[str, Any] | None) -> dict[str, Any]:
    """The enrolment state after an event, given the state before it (None: a new enrolment)."""
    day = event.occurred_at.date()
    if prior is None:
        status = event.status or "registered"
        return {
            "status": status,
            "status_date": day,
            "completed_on": day if status == "completed" else None,
            "hours": event.hours,
        }
    state = _decode_state(prior)
    if event.status is not None and day >= state["status_date"]:
        state["status"] = event.status
        state["status_date"] = day
        state["completed_on"] = day if event.status == "completed" else None
    if event.hours is not None:
        state["hours"] = event.hours
    return state


def _set_state(enrolment: Enrolment, state: dict[str, Any]) -> None:
    decoded = _decode_state(state)
    for name in _STATE_FIELDS:
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


def _append_status(session: Session, enrolment: Enrolment, seq: int) -> None:
    session.execute(
        insert(EnrolmentStatusChange).values(
            enrolment_id=enrolment.id,
            status=enrolment.status,
            status_date=enrolment.status_date,
            seq=seq,
        )
    )
