"""Many learning events applied as one set-based operation (an xAPI batch of statements).

`apply_learning_events(session, events)` gives every event the outcome it would have had if the
events had been applied one after another, in order, but with a handful of queries for the whole
batch instead of several per event: the people are resolved in bulk, the events already applied
and the current enrolments of the batch's (person, course) pairs are read in bulk, the batch is
played in memory (`batch_plan.py`, where retakes are decided), then enrolments, their status
history, the applied events, test attempts and the change feed are written in bulk
(`batch_write.py`: COPY on PostgreSQL).

Only flushes: the caller's session owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session, col

from learning_records.bulk import in_values
from learning_records.changes.service import change_feed
from learning_records.enrolments.batch_plan import Applied, Plan, Pool, Target, play
from learning_records.enrolments.batch_write import write_plan
from learning_records.enrolments.events import (
    LearningEvent,
    LearningEventOutcome,
    event_content,
)
from learning_records.enrolments.models import (
    STATUSES,
    AppliedLearningEvent,
    Enrolment,
)
from learning_records.hashing import content_hash
from learning_records.people.access import record_visible
from learning_records.people.pseudonyms import InvalidPersonalCode
from learning_records.people.service import (
    PersonRef,
    chunks,
    person_ids_by_link,
    person_ids_by_pseudonym,
)
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.auth import Principal

E = Enrolment.__table__  # type: ignore[attr-defined]


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
    plan = Plan()
    first_seq = feed.last_seq + 1
    played: dict[tuple[str, str], Applied] = {}
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
        played[key] = play(plan, pool, event, i, people[i], digests[i], first_seq, restricted)
    if plan.seqs:
        assert feed.allocate(plan.seqs) == first_seq
        write_plan(session, feed, plan)
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

    first: Applied
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
    for source, ids in _by_source(keys).items():
        for part in chunks(ids):
            rows = session.execute(
                select(
                    col(AppliedLearningEvent.external_id),
                    col(AppliedLearningEvent.content_hash),
                    col(AppliedLearningEvent.enrolment_id),
                    col(AppliedLearningEvent.id),
                ).where(
                    col(AppliedLearningEvent.source_system) == source,
                    in_values(session, col(AppliedLearningEvent.external_id), part),
                )
            ).all()
            found.update({(source, r[0]): (r[1], int(r[2]), int(r[3])) for r in rows})
    return found


def _by_source(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(source_system, external_id) pairs as external ids per source system (one array each)."""
    grouped: dict[str, set[str]] = {}
    for source, external_id in keys:
        grouped.setdefault(source, set()).add(external_id)
    return {source: sorted(ids) for source, ids in grouped.items()}


def _current_enrolments(
    session: Session,
    items: Iterable[tuple[int, LearningEvent]],
    principal: Principal | None,
) -> Pool:
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
    # One array per column, the exact pairs kept in Python: cheaper than a list of row values.
    courses = sorted({course for _, course in pairs})
    conditions: list[Any] = [
        and_(
            in_values(session, E.c.person_id, part),
            in_values(session, E.c.course_code, courses),
        )
        for part in chunks(sorted({person for person, _ in pairs}))
    ] + [
        and_(E.c.source_system == source, in_values(session, E.c.external_id, part))
        for source, ids in _by_source(named).items()
        for part in chunks(ids)
    ]
    pool = Pool()
    for condition in conditions:
        query = select(*columns).where(condition)
        if principal is not None:
            query = query.where(record_visible(principal, Enrolment))
        for row in session.execute(query).all():
            source_id = (row.source_system, row.external_id)
            if source_id in pool.by_source or (
                (row.person_id, row.course_code) not in pairs and source_id not in named
            ):
                continue
            pool.add(
                Target(
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
