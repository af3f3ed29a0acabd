"""A batch of learning events played in memory: which enrolment each moves, or creates.

`batch.py` reads what the batch needs, `play()` decides event by event (in order, as if each
were applied alone), and `batch_write.py` writes the decisions in bulk.

**Retakes.** A completion of an enrolment that was already completed at least `RETAKE_AFTER`
earlier is a retake: it becomes a new enrolment (a new entry in the person's history, dated the
day of the retake) instead of moving the old completion's date. Counts by period then see each
completion in its own period; counts of distinct people still count the person once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from learning_records.enrolments.events import (
    LearningEvent,
    decode_state,
    encode_state,
    event_state,
)
from learning_records.enrolments.history import leaves_step

#: A completion this long after the enrolment's completion is a retake (a new enrolment).
RETAKE_AFTER = timedelta(days=90)


@dataclass
class Target:
    """An enrolment as the batch sees it while playing the events."""

    person_id: int
    course_code: str
    session_code: str | None
    institution: str | None
    source_system: str
    external_id: str
    state: dict[str, Any]
    #: Ordering among a person's enrolments of a course: (status_date, creation order).
    order: int
    id: int | None = None
    created: bool = False
    content_hash: str = ""
    seq: int = 0
    touched: bool = False
    #: Whether the current step is already a history row: None for a stored enrolment the
    #: batch has not moved yet (the database knows; `record_stored_steps`).
    recorded: bool | None = None


@dataclass
class Applied:
    """One event the batch applies, with what it needs written."""

    index: int
    event: LearningEvent
    person_id: int
    digest: str
    target: Target
    created: bool
    prior: dict[str, Any]
    enrolment_seq: int
    event_seq: int
    attempt_seq: int | None
    id: int | None = None


@dataclass
class Plan:
    """What playing the batch decided: rows to write and change-feed numbers used."""

    applied: list[Applied] = field(default_factory=list)
    enrolment_changes: list[tuple[int, str, Target]] = field(default_factory=list)
    #: Steps the batch's events leave (target, status, status_date, seq), to write as rows.
    history: list[tuple[Target, str, date, int]] = field(default_factory=list)
    #: Stored enrolments whose stored step the batch leaves: written from the database's row.
    stored_steps: list[Target] = field(default_factory=list)
    seqs: int = 0


class Pool:
    """The enrolments the batch may move, by (person, course) and by source id."""

    def __init__(self) -> None:
        self.by_course: dict[tuple[int, str], list[Target]] = {}
        self.by_source: dict[tuple[str, str], Target] = {}
        self.created = 0

    def add(self, target: Target) -> None:
        self.by_course.setdefault((target.person_id, target.course_code), []).append(target)
        self.by_source[(target.source_system, target.external_id)] = target


def choose(
    pool: Pool, event: LearningEvent, person_id: int, institution: str | None
) -> Target | None:
    """The enrolment the event moves (as `_target_enrolment` would find it now)."""
    if event.enrolment_external_id:
        target = pool.by_source.get(
            (event.enrolment_source_system or event.source_system, event.enrolment_external_id)
        )
        if target is None or (institution is not None and target.institution != institution):
            return None
        return target
    candidates = [
        t
        for t in pool.by_course.get((person_id, event.course_code), [])
        if (institution is None or t.institution == institution)
        and (not event.session_code or t.session_code == event.session_code)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda t: (t.state["status_date"], t.order))


def is_retake(target: Target, event: LearningEvent) -> bool:
    """Whether a completion event repeats a completion at least RETAKE_AFTER old."""
    completed_on = target.state.get("completed_on")
    return (
        event.status == "completed"
        and target.state.get("status") == "completed"
        and isinstance(completed_on, date)
        and event.occurred_at.date() - completed_on >= RETAKE_AFTER
    )


def play(
    plan: Plan,
    pool: Pool,
    event: LearningEvent,
    index: int,
    person_id: int,
    digest: str,
    first_seq: int,
    restricted: bool,
) -> Applied:
    """Apply one event to the in-memory enrolments, numbering its changes."""
    target = choose(pool, event, person_id, event.institution if restricted else None)
    if target is not None and not event.enrolment_external_id and is_retake(target, event):
        target = None
    enrolment_seq = first_seq + plan.seqs
    created = target is None
    if target is None:
        pool.created += 1
        target = Target(
            person_id=person_id,
            course_code=event.course_code,
            session_code=event.session_code,
            institution=event.institution,
            source_system=event.enrolment_source_system or event.source_system,
            external_id=event.enrolment_external_id or f"event:{event.external_id}",
            state=event_state(event, None),
            order=1 << 62 | pool.created,
            created=True,
            content_hash=digest,
            recorded=False,
        )
        pool.add(target)
        prior: dict[str, Any] = {}
    else:
        left = target.state
        prior = encode_state(left)
        target.state = decode_state(event_state(event, prior))
        _leave_step(plan, target, left)
    target.seq = enrolment_seq
    target.touched = True
    plan.enrolment_changes.append((enrolment_seq, "create" if created else "update", target))
    attempt_seq = enrolment_seq + 2 if event.passed is not None else None
    plan.seqs += 3 if attempt_seq is not None else 2
    applied = Applied(
        index=index,
        event=event,
        person_id=person_id,
        digest=digest,
        target=target,
        created=created,
        prior=prior,
        enrolment_seq=enrolment_seq,
        event_seq=enrolment_seq + 1,
        attempt_seq=attempt_seq,
    )
    plan.applied.append(applied)
    return applied


def _leave_step(plan: Plan, target: Target, left: dict[str, Any]) -> None:
    """Note the step an event leaves, unless it is a history row already (enrolments/history.py:
    the current step lives in the enrolment row until its status or status_date changes)."""
    state = target.state
    if not leaves_step(left, state):
        return
    if target.recorded is None:
        plan.stored_steps.append(target)
    elif not target.recorded:
        plan.history.append((target, left["status"], left["status_date"], target.seq))
    # A moved date keeps the step's row (with the date it was reached); a new status is unwritten.
    target.recorded = state["status"] == left["status"]
