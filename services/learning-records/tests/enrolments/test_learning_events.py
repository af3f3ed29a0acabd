"""apply_learning_event / revert_learning_event: the service functions the xAPI LRS calls."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from learning_records.changes.models import Change
from learning_records.enrolments.history import timelines
from learning_records.enrolments.models import Enrolment, EnrolmentStatusChange
from learning_records.enrolments.service import (
    LearningEvent,
    apply_learning_event,
    revert_learning_event,
)
from learning_records.people.pseudonyms import pseudonymise, synthetic_personal_code
from learning_records.results.models import TestAttempt
from pilnveide_kit.auth import Principal
from pilnveide_kit.db import session_scope

CODE = synthetic_personal_code(42)


def _event(external_id: str, status: str | None, day: int, **extra: object) -> LearningEvent:
    return LearningEvent(
        source_system="lrs",
        external_id=external_id,
        course_code="INTEG-E",
        occurred_at=datetime(2024, 3, day, 10, tzinfo=UTC),
        status=status,
        personal_code=CODE,
        institution="VK",
        **extra,  # type: ignore[arg-type]
    )


def _enrolments(engine: Engine) -> list[Enrolment]:
    with session_scope(engine) as session:
        return list(session.exec(select(Enrolment)).scalars())  # type: ignore[call-overload]


def test_events_create_and_move_one_enrolment(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        first = apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
        second = apply_learning_event(
            session, _event("s2", "completed", 5, hours=8.0, passed=True, score=90), pepper=pepper
        )
    assert first.status == "accepted" and second.status == "accepted"
    assert first.enrolment_id == second.enrolment_id
    [enrolment] = _enrolments(engine)
    assert (enrolment.status, enrolment.completed_on, enrolment.hours) == (
        "completed",
        date(2024, 3, 5),
        8.0,
    )
    with session_scope(engine) as session:
        steps = timelines(session, [enrolment.model_dump()])[enrolment.id]
        assert [s["status"] for s in steps] == ["registered", "completed"]
        # Only the step left is a history row; the current one is the enrolment's own.
        stored = session.execute(select(EnrolmentStatusChange.status)).scalars()
        assert list(stored) == ["registered"]
        [attempt] = session.execute(select(TestAttempt)).scalars()
        assert attempt.passed and attempt.score == 90


def test_replayed_event_is_unchanged_and_a_different_one_conflicts(
    engine: Engine, pepper: str
) -> None:
    with session_scope(engine) as session:
        apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
    with session_scope(engine) as session:
        seq_before = session.execute(select(func.max(Change.seq))).scalar_one()
        replay = apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
        changed = apply_learning_event(session, _event("s1", "attended", 1), pepper=pepper)
    assert replay.status == "unchanged"
    assert changed.status == "conflict"
    with session_scope(engine) as session:
        assert session.execute(select(func.max(Change.seq))).scalar_one() == seq_before


def test_revert_recomputes_or_removes_the_enrolment(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
        apply_learning_event(session, _event("s2", "completed", 5, passed=True), pepper=pepper)
    with session_scope(engine) as session:
        outcome = revert_learning_event(session, "lrs", "s2")
    assert outcome.status == "accepted"
    [enrolment] = _enrolments(engine)
    assert (enrolment.status, enrolment.completed_on) == ("registered", None)
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(TestAttempt)).scalar_one() == 0
        assert revert_learning_event(session, "lrs", "s1").status == "accepted"
        assert revert_learning_event(session, "lrs", "s1").status == "not_found"
    assert _enrolments(engine) == []


def test_reverting_the_first_event_keeps_the_later_ones(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
        apply_learning_event(session, _event("s2", "attended", 3), pepper=pepper)
        revert_learning_event(session, "lrs", "s1")
    [enrolment] = _enrolments(engine)
    assert (enrolment.status, enrolment.status_date) == ("attended", date(2024, 3, 3))


def test_bad_events_are_rejected_without_writing(engine: Engine, pepper: str) -> None:
    restricted = Principal("lms", frozenset({"records:write"}), frozenset({"FM"}))
    with session_scope(engine) as session:
        bad_code = apply_learning_event(
            session,
            LearningEvent(
                "lrs",
                "x1",
                "C",
                datetime(2024, 1, 1, tzinfo=UTC),
                "registered",
                personal_code="999999-99999",
            ),
            pepper=pepper,
        )
        outside = apply_learning_event(
            session, _event("x2", "registered", 1), pepper=pepper, principal=restricted
        )
        bad_status = apply_learning_event(session, _event("x3", "done", 1), pepper=pepper)
    assert [bad_code.status, outside.status, bad_status.status] == ["rejected"] * 3
    assert "999999" not in (bad_code.reason or "")
    assert _enrolments(engine) == []


def test_the_person_is_stored_by_pseudonym(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        outcome = apply_learning_event(session, _event("s1", "registered", 1), pepper=pepper)
    from learning_records.people.models import Person

    with session_scope(engine) as session:
        [person] = session.execute(select(Person)).scalars()
        assert person.pseudonym == pseudonymise(CODE, pepper)
        assert outcome.enrolment_id is not None
