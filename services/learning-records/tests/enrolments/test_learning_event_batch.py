"""apply_learning_events: a batch gives what the same events applied one by one give; retakes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from learning_records.changes.models import Change
from learning_records.employment.models import Employment
from learning_records.enrolments.batch import apply_learning_events
from learning_records.enrolments.history import timelines
from learning_records.enrolments.models import AppliedLearningEvent, Enrolment
from learning_records.enrolments.service import (
    LearningEvent,
    apply_learning_event,
    revert_learning_event,
)
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.results.models import TestAttempt
from pilnveide_kit.auth import Principal
from pilnveide_kit.db import session_scope


def _event(
    source_id: str,
    status: str | None,
    when: date,
    *,
    person: int = 1,
    course: str = "INTEG-E",
    **extra: Any,
) -> LearningEvent:
    return LearningEvent(
        source_system="lrs",
        external_id=source_id,
        course_code=course,
        occurred_at=datetime(when.year, when.month, when.day, 10, tzinfo=UTC),
        status=status,
        personal_code=synthetic_personal_code(person),
        institution="VK",
        **extra,
    )


def _story(course: str, prefix: str) -> list[LearningEvent]:
    """Two people, events in and out of date order, a result without a status, a replay."""
    return [
        _event(f"{prefix}1", "registered", date(2024, 3, 1), course=course),
        _event(f"{prefix}2", "attended", date(2024, 3, 3), course=course, hours=4.0),
        _event(f"{prefix}3", "registered", date(2024, 3, 2), course=course),  # older: no move
        _event(f"{prefix}4", None, date(2024, 3, 4), course=course, passed=False, score=40),
        _event(f"{prefix}5", "completed", date(2024, 3, 5), course=course, passed=True, score=90),
        _event(f"{prefix}6", "registered", date(2024, 3, 1), person=2, course=course),
        _event(f"{prefix}7", "failed", date(2024, 3, 6), person=2, course=course),
        _event(f"{prefix}1", "registered", date(2024, 3, 1), course=course),  # replay
        _event(f"{prefix}2", "completed", date(2024, 3, 3), course=course),  # conflict
    ]


def _state(engine: Engine, course: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        enrolments = session.execute(
            select(Enrolment).where(Enrolment.course_code == course).order_by(Enrolment.id)
        ).scalars()
        rows = []
        enrolments = list(enrolments)
        steps = timelines(session, [e.model_dump() for e in enrolments])
        for e in enrolments:
            assert e.id is not None
            history = [(s["status"], s["status_date"]) for s in steps[e.id]]
            rows.append((e.person_id, e.status, e.status_date, e.completed_on, e.hours, history))
        attempts = session.execute(
            select(TestAttempt.passed, TestAttempt.score)
            .where(TestAttempt.course_code == course)
            .order_by(TestAttempt.id)
        ).all()
        return {"enrolments": rows, "attempts": [tuple(a) for a in attempts]}


def test_a_batch_ends_where_the_same_events_one_by_one_end(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        singles = [apply_learning_event(session, e, pepper=pepper) for e in _story("ONE", "o")]
    with session_scope(engine) as session:
        seq_before = session.execute(select(func.max(Change.seq))).scalar_one()
        batch = apply_learning_events(session, _story("MANY", "m"), pepper=pepper)
    assert [o.status for o in batch] == [o.status for o in singles]
    assert [o.status for o in batch][-2:] == ["unchanged", "conflict"]
    assert batch[-2].enrolment_id == batch[0].enrolment_id and batch[0].enrolment_id is not None
    assert _state(engine, "MANY") == _state(engine, "ONE")
    with session_scope(engine) as session:
        changes = session.execute(
            select(Change.entity, Change.op, Change.key)
            .where(Change.seq > seq_before)
            .order_by(Change.seq)
        ).all()
        entities = [c.entity for c in changes]
        # Seven events applied: one enrolment change and one event record each, two attempts.
        assert entities.count("enrolment") == 7 and entities.count("learning_event") == 7
        assert entities.count("test_attempt") == 2
        seqs = session.execute(
            select(Change.seq).where(Change.seq > seq_before).order_by(Change.seq)
        ).scalars()
        numbers = list(seqs)
        assert numbers == list(range(seq_before + 1, seq_before + 1 + len(numbers)))
        enrolment_ids = {str(i) for i in session.execute(select(Enrolment.id)).scalars()}
        assert {c.key for c in changes if c.entity == "enrolment"} <= enrolment_ids
        assert not any(c.key == "?" for c in changes)
        # Each enrolment carries the number of its last change.
        for enrolment in session.execute(
            select(Enrolment).where(Enrolment.course_code == "MANY")
        ).scalars():
            last = max(
                c_seq
                for c_seq, c in zip(numbers, changes, strict=True)
                if c.entity == "enrolment" and c.key == str(enrolment.id)
            )
            assert enrolment.seq == last


def test_a_batch_event_reverts_like_a_single_one(engine: Engine, pepper: str) -> None:
    with session_scope(engine) as session:
        apply_learning_events(
            session,
            [
                _event("r1", "registered", date(2024, 3, 1)),
                _event("r2", "completed", date(2024, 3, 5), passed=True, score=80),
            ],
            pepper=pepper,
        )
    with session_scope(engine) as session:
        assert revert_learning_event(session, "lrs", "r2").status == "accepted"
    [(_, status, _, completed_on, _, history)] = _state(engine, "INTEG-E")["enrolments"]
    assert (status, completed_on) == ("registered", None)
    assert [h[0] for h in history] == ["registered", "completed", "registered"]
    assert _state(engine, "INTEG-E")["attempts"] == []


def test_a_retake_long_after_is_a_new_enrolment_a_prompt_one_is_not(
    engine: Engine, pepper: str
) -> None:
    with session_scope(engine) as session:
        first, prompt = apply_learning_events(
            session,
            [
                _event("t1", "completed", date(2022, 3, 1)),
                # Passed a week later: the same course run, the same enrolment.
                _event("t2", "completed", date(2022, 3, 8), passed=True, score=70),
            ],
            pepper=pepper,
        )
    with session_scope(engine) as session:
        [retake, again] = apply_learning_events(
            session,
            [
                _event("t3", "completed", date(2025, 4, 2)),
                _event("t4", "attended", date(2025, 4, 3)),
            ],
            pepper=pepper,
        )
    enrolments = _state(engine, "INTEG-E")["enrolments"]
    assert [(e[1], e[2], e[3]) for e in enrolments] == [
        ("completed", date(2022, 3, 8), date(2022, 3, 8)),  # the old completion stays in 2022
        ("attended", date(2025, 4, 3), None),  # the retake, then moved by the next event
    ]
    assert enrolments[0][0] == enrolments[1][0]  # one person
    assert first.enrolment_id == prompt.enrolment_id
    assert retake.enrolment_id == again.enrolment_id != first.enrolment_id
    # A retake one by one is the same rule.
    with session_scope(engine) as session:
        single = apply_learning_event(
            session, _event("t5", "completed", date(2025, 9, 1)), pepper=pepper
        )
    assert single.enrolment_id == retake.enrolment_id  # not completed yet: this run completes
    with session_scope(engine) as session:
        later = apply_learning_event(
            session, _event("t6", "completed", date(2026, 9, 1)), pepper=pepper
        )
        assert later.enrolment_id not in (retake.enrolment_id, None)
        assert session.execute(select(func.count()).select_from(Enrolment)).scalar_one() == 3
    with session_scope(engine) as session:
        assert revert_learning_event(session, "lrs", "t6").status == "accepted"
        assert session.execute(select(func.count()).select_from(Enrolment)).scalar_one() == 2


def test_a_restricted_batch_moves_only_its_institutions_enrolments(
    engine: Engine, pepper: str
) -> None:
    with session_scope(engine) as session:
        # The same person's enrolment at VID, written by an unrestricted source.
        [at_vid] = apply_learning_events(
            session,
            [
                LearningEvent(
                    "lrs",
                    "v1",
                    "INTEG-E",
                    datetime(2024, 3, 1, tzinfo=UTC),
                    "registered",
                    personal_code=synthetic_personal_code(1),
                    institution="VID",
                )
            ],
            pepper=pepper,
        )
    vk = Principal("lms-vk", frozenset({"records:write"}), frozenset({"VK"}))
    with session_scope(engine) as session:
        outcomes = apply_learning_events(
            session,
            [
                _event("k1", "completed", date(2024, 3, 5)),
                LearningEvent(
                    "lrs",
                    "k2",
                    "INTEG-E",
                    datetime(2024, 3, 6, tzinfo=UTC),
                    "failed",
                    personal_code=synthetic_personal_code(1),
                    institution="VID",
                ),
            ],
            pepper=pepper,
            principal=vk,
        )
    assert [o.status for o in outcomes] == ["accepted", "rejected"]
    assert outcomes[0].enrolment_id != at_vid.enrolment_id
    with session_scope(engine) as session:
        rows = session.execute(
            select(Enrolment.institution, Enrolment.status).order_by(Enrolment.id)
        ).all()
        assert [tuple(r) for r in rows] == [("VID", "registered"), ("VK", "completed")]
        assert (
            session.execute(select(func.count()).select_from(AppliedLearningEvent)).scalar_one()
            == 2
        )
        assert session.execute(select(func.count()).select_from(Employment)).scalar_one() == 0
