"""Many learning events applied as one set-based operation (an xAPI batch of statements).

`apply_learning_events(session, events)` gives every event the outcome it would have had if the
events had been applied one after another, in order, but with a handful of queries for the whole
batch instead of several per event: the people are resolved in bulk, the events already applied
and the current enrolments of the batch's (person, course) pairs are read in bulk, the batch is
played in memory, then enrolments, their status history, the applied events, test attempts and
the change feed are written in bulk (COPY on PostgreSQL).

**Retakes.** A completion of an enrolment that was already completed at least `RETAKE_AFTER`
earlier is a retake: it becomes a new enrolment (a new entry in the person's history, dated the
day of the retake) instead of moving the old completion's date. Counts by period then see each
completion in its own period, and counts of distinct people still count the person once.

Only flushes: the caller's session owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlmodel import Session, col

from learning_records.bulk import insert_rows, is_postgres
from learning_records.changes.service import ChangeFeed, change_feed
from learning_records.enrolments.events import (
    LearningEvent,
    LearningEventOutcome,
    decode_state,
    encode_state,
    event_content,
    event_state,
)
from learning_records.enrolments.models import (
    STATUSES,
    AppliedLearningEvent,
    Enrolment,
    EnrolmentStatusChange,
)
from learning_records.hashing import content_hash
from learning_records.models import utcnow
from learning_records.people.access import record_visible
from learning_records.people.pseudonyms import InvalidPersonalCode
from learning_records.people.service import (
    CHUNK,
    PersonRef,
    chunks,
    person_ids_by_link,
    person_ids_by_pseudonym,
)
from learning_records.results.models import TestAttempt
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.auth import Principal

#: A completion this long after the enrolment's completion is a retake (a new enrolment).
RETAKE_AFTER = timedelta(days=90)

E = Enrolment.__table__  # type: ignore[attr-defined]


@dataclass
class _Target:
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


@dataclass
class _Applied:
    """One event the batch applies, with what it needs written."""

    index: int
    event: LearningEvent
    person_id: int
    digest: str
    target: _Target
    created: bool
    prior: dict[str, Any]
    enrolment_seq: int
    event_seq: int
    attempt_seq: int | None
    id: int | None = None


@dataclass
class _Plan:
    """What playing the batch decided: rows to write and change-feed numbers used."""

    applied: list[_Applied] = field(default_factory=list)
    enrolment_changes: list[tuple[int, str, _Target]] = field(default_factory=list)
    history: list[tuple[_Target, str, date, int]] = field(default_factory=list)
    seqs: int = 0


def apply_learning_events(
    session: Session,
    events: Sequence[LearningEvent],
    *,
    pepper: str | None = None,
    principal: Principal | None = None,
) -> list[LearningEventOutcome]:
    """Apply events in order as one set-based write; one outcome per event, in order.

    `principal`, when given, limits each event to the client's institutions (the event must
    name one, and only enrolments at that institution are moved).
    """
    pepper = pepper or LearningRecordsSettings().pseudonym_pepper
    restricted = principal is not None and principal.restricted
    outcomes: list[LearningEventOutcome | _Later | None] = [None] * len(events)
    for index, event in enumerate(events):
        refused = _precheck(event, principal if restricted else None)
        if refused is not None:
            outcomes[index] = LearningEventOutcome("rejected", refused)
    pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if not pending:
        return [o for o in outcomes if isinstance(o, LearningEventOutcome)]
    feed = change_feed(session)
    people = _resolve_people(session, events, pending, pepper, outcomes)
    pending = [i for i in pending if outcomes[i] is None]
    digests = {i: content_hash(event_content(events[i], people[i])) for i in pending}
    known = _applied_already(
        session, [(events[i].source_system, events[i].external_id) for i in pending]
    )
    pool = _current_enrolments(
        session, [(people[i], events[i]) for i in pending], principal if restricted else None
    )
    plan = _Plan()
    first_seq = feed.last_seq + 1
    played: dict[tuple[str, str], _Applied] = {}
    for i in pending:
        event = events[i]
        key = (event.source_system, event.external_id)
        if key in known:
            digest, enrolment_id, event_id = known[key]
            outcomes[i] = _replay(digest == digests[i], enrolment_id, event_id)
            continue
        if key in played:
            outcomes[i] = _Later(played[key], digests[i])
            continue
        played[key] = _play(plan, pool, event, i, people[i], digests[i], first_seq, restricted)
    if plan.seqs:
        assert feed.allocate(plan.seqs) == first_seq
        _write(session, feed, plan)
    for item in plan.applied:
        outcomes[item.index] = LearningEventOutcome(
            "accepted", enrolment_id=item.target.id, event_id=item.id, seq=item.enrolment_seq
        )
    feed.flush()
    final: list[LearningEventOutcome] = []
    for outcome in outcomes:
        if isinstance(outcome, _Later):
            outcome = outcome.resolved()
        assert outcome is not None
        final.append(outcome)
    return final


def _replay(same: bool, enrolment_id: int | None, event_id: int | None) -> LearningEventOutcome:
    """A source id already applied: unchanged when the content is the same, else a conflict."""
    if same:
        return LearningEventOutcome("unchanged", enrolment_id=enrolment_id, event_id=event_id)
    return LearningEventOutcome(
        "conflict",
        "this source id was already used for a different event; revert it first",
        enrolment_id=enrolment_id,
        event_id=event_id,
    )


@dataclass
class _Later:
    """A source id used twice in one batch: the second's outcome, once the first has ids."""

    first: _Applied
    digest: str

    def resolved(self) -> LearningEventOutcome:
        return _replay(self.digest == self.first.digest, self.first.target.id, self.first.id)


def _precheck(event: LearningEvent, principal: Principal | None) -> str | None:
    if event.status is not None and event.status not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    if event.status is None and event.passed is None and event.hours is None:
        return "the event carries no status, result or hours"
    if principal is not None and not principal.can_see(event.institution):
        return "the institution is outside the client's access"
    return None


def _resolve_people(
    session: Session,
    events: Sequence[LearningEvent],
    pending: list[int],
    pepper: str,
    outcomes: list[Any],
) -> dict[int, int]:
    """Each pending event's person id (people named by pseudonym are created when new); an
    event naming nobody it can resolve gets its rejected outcome."""
    pseudonyms: dict[int, str] = {}
    links: dict[int, tuple[str, str]] = {}
    for i in pending:
        event = events[i]
        ref = PersonRef(
            personal_code=event.personal_code,
            pseudonym=event.pseudonym,
            source_system=event.person_source_system,
            external_id=event.person_external_id,
        )
        try:
            pseudonym = ref.resolved_pseudonym(pepper)
        except InvalidPersonalCode as exc:
            outcomes[i] = LearningEventOutcome("rejected", str(exc))
            continue
        if pseudonym is not None:
            pseudonyms[i] = pseudonym
        elif ref.source_system and ref.external_id:
            links[i] = (ref.source_system, ref.external_id)
        else:
            outcomes[i] = LearningEventOutcome("rejected", "the item names no person")
    by_pseudonym = (
        person_ids_by_pseudonym(session, pseudonyms.values(), create=True) if pseudonyms else {}
    )
    by_link = person_ids_by_link(session, links.values()) if links else {}
    people: dict[int, int] = {i: by_pseudonym[p] for i, p in pseudonyms.items()}
    for i, link in links.items():
        if link in by_link:
            people[i] = by_link[link]
        else:
            outcomes[i] = LearningEventOutcome(
                "rejected", "no person is known by this source id; send the person first"
            )
    return people


def _applied_already(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, int, int]]:
    """(source_system, external_id) → (content hash, enrolment id, event id) of applied events."""
    found: dict[tuple[str, str], tuple[str, int, int]] = {}
    for part in chunks(sorted(set(keys)), CHUNK // 2):
        rows = session.execute(
            select(
                col(AppliedLearningEvent.source_system),
                col(AppliedLearningEvent.external_id),
                col(AppliedLearningEvent.content_hash),
                col(AppliedLearningEvent.enrolment_id),
                col(AppliedLearningEvent.id),
            ).where(
                tuple_(
                    col(AppliedLearningEvent.source_system), col(AppliedLearningEvent.external_id)
                ).in_(part)
            )
        ).all()
        found.update({(r[0], r[1]): (r[2], int(r[3]), int(r[4])) for r in rows})
    return found


class _Pool:
    """The enrolments the batch may move, by (person, course) and by source id."""

    def __init__(self) -> None:
        self.by_course: dict[tuple[int, str], list[_Target]] = {}
        self.by_source: dict[tuple[str, str], _Target] = {}
        self.created = 0

    def add(self, target: _Target) -> None:
        self.by_course.setdefault((target.person_id, target.course_code), []).append(target)
        self.by_source[(target.source_system, target.external_id)] = target


def _current_enrolments(
    session: Session,
    items: Iterable[tuple[int, LearningEvent]],
    principal: Principal | None,
) -> _Pool:
    """The enrolments of the batch's (person, course) pairs and of the enrolments it names."""
    pairs: set[tuple[int, str]] = set()
    named: set[tuple[str, str]] = set()
    for person_id, event in items:
        if event.enrolment_external_id:
            named.add(
                (event.enrolment_source_system or event.source_system, event.enrolment_external_id)
            )
        else:
            pairs.add((person_id, event.course_code))
    columns = [
        E.c.id,
        E.c.person_id,
        E.c.course_code,
        E.c.session_code,
        E.c.institution,
        E.c.source_system,
        E.c.external_id,
        E.c.status,
        E.c.status_date,
        E.c.completed_on,
        E.c.hours,
    ]
    conditions: list[Any] = [
        tuple_(E.c.person_id, E.c.course_code).in_(part)
        for part in chunks(sorted(pairs), CHUNK // 2)
    ] + [
        tuple_(E.c.source_system, E.c.external_id).in_(part)
        for part in chunks(sorted(named), CHUNK // 2)
    ]
    pool = _Pool()
    for condition in conditions:
        query = select(*columns).where(condition)
        if principal is not None:
            query = query.where(record_visible(principal, Enrolment))
        for row in session.execute(query).all():
            if (row.source_system, row.external_id) in pool.by_source:
                continue
            pool.add(
                _Target(
                    person_id=row.person_id,
                    course_code=row.course_code,
                    session_code=row.session_code,
                    institution=row.institution,
                    source_system=row.source_system,
                    external_id=row.external_id,
                    state={
                        "status": row.status,
                        "status_date": row.status_date,
                        "completed_on": row.completed_on,
                        "hours": row.hours,
                    },
                    order=int(row.id),
                    id=int(row.id),
                )
            )
    return pool


def _choose(
    pool: _Pool, event: LearningEvent, person_id: int, institution: str | None
) -> _Target | None:
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


def is_retake(target: _Target, event: LearningEvent) -> bool:
    """Whether a completion event repeats a completion at least RETAKE_AFTER old."""
    completed_on = target.state.get("completed_on")
    return (
        event.status == "completed"
        and target.state.get("status") == "completed"
        and isinstance(completed_on, date)
        and event.occurred_at.date() - completed_on >= RETAKE_AFTER
    )


def _play(
    plan: _Plan,
    pool: _Pool,
    event: LearningEvent,
    index: int,
    person_id: int,
    digest: str,
    first_seq: int,
    restricted: bool,
) -> _Applied:
    """Apply one event to the in-memory enrolments, numbering its changes."""
    target = _choose(pool, event, person_id, event.institution if restricted else None)
    if target is not None and not event.enrolment_external_id and is_retake(target, event):
        target = None
    enrolment_seq = first_seq + plan.seqs
    created = target is None
    if target is None:
        pool.created += 1
        target = _Target(
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
        )
        pool.add(target)
        prior: dict[str, Any] = {}
    else:
        prior = encode_state(target.state)
        target.state = decode_state(event_state(event, prior))
    target.seq = enrolment_seq
    target.touched = True
    plan.enrolment_changes.append((enrolment_seq, "create" if created else "update", target))
    if created or prior.get("status") != target.state["status"]:
        plan.history.append(
            (target, target.state["status"], target.state["status_date"], enrolment_seq)
        )
    attempt_seq = enrolment_seq + 2 if event.passed is not None else None
    plan.seqs += 3 if attempt_seq is not None else 2
    applied = _Applied(
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


def _write(session: Session, feed: ChangeFeed, plan: _Plan) -> None:
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
