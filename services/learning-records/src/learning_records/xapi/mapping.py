"""From statements to learning records: which statements mean an enrolment event; applying it.

A statement maps when its verb is in the verb map, its object is an Activity standing for a
catalog course (the writer's own course mapping, else a global one, else an id under the course
prefix: course_mappings.py) and its actor names a person (actors.py: a pseudonymous or HR-id
account, or a mailbox HR registered).

The mapped statements of a batch are applied as one set-based write
(`enrolments.batch.apply_learning_events`): people, courses, mailboxes, employments and current
enrolments are read in bulk, not per statement.

The mapping runs with the writer's principal: a restricted writer's statement changes only
enrolments at its institutions, for a person employed there (the enrolment goes to that
institution); about anybody else it is kept as rejected and changes nothing. The outcome is kept
with the statement: mapped, unmapped (with the reason), rejected (the person is not the
writer's), error (the learning records refused the event, with their reason), reverted (voided
after it was applied) or ignored (voiding).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from learning_records.employment.models import Employment
from learning_records.enrolments.service import (
    LearningEvent,
    apply_learning_events,
    revert_learning_event,
)
from learning_records.people.service import chunks, person_ids_by_link, person_ids_by_pseudonym
from learning_records.xapi.actors import Actors
from learning_records.xapi.course_mappings import courses_for
from learning_records.xapi.models import XapiStatement
from learning_records.xapi.settings import XapiSettings
from learning_records.xapi.validation import VOIDED_VERB, parse_timestamp
from pilnveide_kit.auth import Principal

S = XapiStatement.__table__  # type: ignore[attr-defined]

MAPPED, UNMAPPED, ERROR, REVERTED, IGNORED = "mapped", "unmapped", "error", "reverted", "ignored"
REJECTED = "rejected"
#: The one reason a restricted writer hears, whether the person is unknown or someone else's.
NOT_YOURS = "person not employed at your institutions"
#: Source system of the learning events the LRS produces (their external id: the statement id).
SOURCE_SYSTEM = "xapi"


@dataclass(frozen=True)
class EventShape:
    """What an enrolment event kind sets: the status and whether it records a test result."""

    status: str | None
    passed: bool | None = None


#: Learning event kind (the verb map's values) → enrolment status and test result.
EVENT_SHAPES: dict[str, EventShape] = {
    "registered": EventShape("registered"),
    "attended": EventShape("attended"),
    "completed": EventShape("completed"),
    "passed": EventShape("completed", passed=True),
    "failed": EventShape("failed", passed=False),
    "scored": EventShape(None),
}


class StatementMapper:
    """Decides each new statement's mapping outcome and applies it to the learning records."""

    def __init__(
        self, session: Session, settings: XapiSettings, principal: Principal, pepper: str
    ) -> None:
        self.session = session
        self.settings = settings
        self.principal = principal
        self.pepper = pepper
        self._courses: dict[str, str | None] = {}
        self.actors = Actors(session, settings, principal.institutions)

    def course_for(self, activity_id: str) -> str | None:
        """The catalog course code an activity id stands for in the writer's statements (its
        own mapping, else a global one, else an id under the course prefix), if any."""
        if activity_id not in self._courses:
            self.prefetch_courses([activity_id])
        return self._courses[activity_id]

    def event_for(self, statement: dict[str, Any]) -> LearningEvent | str:
        """The learning event a statement means, or the reason it means none."""
        verb = statement["verb"]["id"]
        kind = self.settings.verb_map.get(verb)
        if kind is None:
            return f"verb {verb} is not mapped to a learning event"
        target = statement["object"]
        if target.get("objectType", "Activity") != "Activity":
            return "the object is not an Activity"
        course = self.course_for(target["id"])
        if course is None:
            return f"activity {target['id']} is not mapped to a catalog course"
        learner = self.actors.learner(statement)
        if isinstance(learner, str):
            return learner
        result = statement.get("result") or {}
        score = result.get("score") or {}
        shape = EVENT_SHAPES[kind]
        passed = shape.passed
        if kind == "scored":
            passed = result.get("success")
            if passed is None:
                return "a scored statement needs result.success to record a test result"
        raw = score.get("raw")
        scaled = score.get("scaled")
        value = raw if raw is not None else (scaled * 100 if scaled is not None else None)
        maximum = score.get("max") if raw is not None else (100 if scaled is not None else None)
        return LearningEvent(
            source_system=SOURCE_SYSTEM,
            external_id=statement["id"].lower(),
            course_code=course,
            occurred_at=parse_timestamp(statement["timestamp"]),
            status=shape.status,
            pseudonym=learner.pseudonym,
            person_source_system=learner.source_system,
            person_external_id=learner.external_id,
            institution=learner.institution,
            score=value,
            max_score=maximum,
            passed=passed,
        )

    def decide(self, statement: dict[str, Any]) -> tuple[str, str | None]:
        """The outcome recorded with a statement as it is stored (mapped may turn into error)."""
        if statement["verb"]["id"] == VOIDED_VERB:
            return IGNORED, "a voiding statement undoes its target's effect"
        event = self.event_for(statement)
        if isinstance(event, str):
            return UNMAPPED, event[:500]
        return MAPPED, None

    def prefetch(self, statements: list[Any]) -> None:
        """Read the course mappings and mailboxes a batch of statements names, in bulk."""
        self.prefetch_courses(
            s["object"]["id"]
            for s in statements
            if isinstance(s, dict)
            and isinstance(s.get("object"), dict)
            and isinstance(s["object"].get("id"), str)
        )
        self.actors.prefetch(statements)

    def prefetch_courses(self, activity_ids: Iterable[str]) -> None:
        """Look up the course mappings of many activities in one query (course_for caches)."""
        wanted = sorted({a for a in activity_ids if a not in self._courses})
        if not wanted:
            return
        found = courses_for(self.session, self.principal.client_id, wanted)
        prefix = self.settings.course_activity_prefix
        for activity_id in wanted:
            code = found.get(activity_id)
            if code is None and prefix and activity_id.startswith(prefix):
                code = activity_id[len(prefix) :].strip("/") or None
            self._courses[activity_id] = code

    def apply(self, new: list[dict[str, Any]], mapped_ids: set[str], voided: list[str]) -> None:
        """Apply new mapped statements as one set-based write; revert what newly voided
        statements had applied."""
        ids: list[str] = []
        events: list[LearningEvent] = []
        for statement in new:
            statement_id = statement["id"].lower()
            if statement_id not in mapped_ids:
                continue
            event = self.event_for(statement)
            if isinstance(event, str):  # decide() saw an event; nothing has changed since
                continue
            ids.append(statement_id)
            events.append(event)
        outcomes: dict[str, tuple[str, str | None]] = {}
        placed = self.place(events)
        to_apply = [(i, e) for i, e in zip(ids, placed, strict=True) if not isinstance(e, str)]
        for statement_id, refused in zip(ids, placed, strict=True):
            if isinstance(refused, str):
                outcomes[statement_id] = (REJECTED, refused)
        applied = apply_learning_events(
            self.session,
            [event for _, event in to_apply],
            pepper=self.pepper,
            principal=self.principal,
        )
        for (statement_id, _), outcome in zip(to_apply, applied, strict=True):
            if outcome.status not in ("accepted", "unchanged"):
                outcomes[statement_id] = (ERROR, f"{outcome.status}: {outcome.reason}"[:500])
        self.set_outcomes(outcomes)
        if not voided:
            return
        rows = self.session.execute(
            select(S.c.statement_id, S.c.payload).where(
                S.c.statement_id.in_(voided), S.c.mapping_status == MAPPED
            )
        ).all()
        for row in rows:
            revert_learning_event(self.session, SOURCE_SYSTEM, row.statement_id)
            self.set_outcome(row.statement_id, REVERTED, "the statement was voided")

    def place(self, events: list[LearningEvent]) -> list[LearningEvent | str]:
        """Each event at the writer's institution where the person is employed (the one whose
        employment covers the event's day, else the latest), or the reason it is refused.
        Unrestricted writers' events are left as they are. People and employments are read in
        bulk."""
        institutions = self.principal.institutions
        if institutions is None:
            return list(events)
        if not institutions:
            return [NOT_YOURS] * len(events)
        by_pseudonym = person_ids_by_pseudonym(
            self.session, [e.pseudonym for e in events if e.pseudonym], create=False
        )
        by_link = person_ids_by_link(
            self.session,
            [
                (e.person_source_system, e.person_external_id)
                for e in events
                if e.pseudonym is None and e.person_source_system and e.person_external_id
            ],
        )
        people: list[int | None] = [
            by_pseudonym.get(e.pseudonym)
            if e.pseudonym
            else by_link.get((e.person_source_system or "", e.person_external_id or ""))
            for e in events
        ]
        employments: dict[int, list[Any]] = {}
        known = sorted({p for p in people if p is not None})
        for part in chunks(known):
            rows = self.session.execute(
                select(
                    col(Employment.person_id),
                    col(Employment.institution),
                    col(Employment.valid_from),
                    col(Employment.valid_to),
                )
                .where(
                    col(Employment.person_id).in_(part),
                    col(Employment.institution).in_(sorted(institutions)),
                )
                .order_by(col(Employment.valid_from).desc(), col(Employment.id).desc())
            ).all()
            for row in rows:
                employments.setdefault(row.person_id, []).append(row)
        placed: list[LearningEvent | str] = []
        for event, person_id in zip(events, people, strict=True):
            held = employments.get(person_id) if person_id is not None else None
            if held and event.institution is not None:  # the statement named its institution
                held = [r for r in held if r.institution == event.institution]
            if not held:
                placed.append(NOT_YOURS)
                continue
            day = event.occurred_at.date()
            covering = [
                r for r in held if r.valid_from <= day and (r.valid_to is None or day <= r.valid_to)
            ]
            placed.append(replace(event, institution=(covering or held)[0].institution))
        return placed

    def set_outcomes(self, outcomes: dict[str, tuple[str, str | None]]) -> None:
        """Record many statements' mapping outcomes (statement id → (outcome, detail))."""
        if not outcomes:
            return
        self.session.execute(
            update(S)
            .where(S.c.statement_id == bindparam("target_id"))
            .values(mapping_status=bindparam("new_status"), mapping_detail=bindparam("new_detail"))
            .execution_options(synchronize_session=False),
            [
                {"target_id": sid, "new_status": status, "new_detail": detail}
                for sid, (status, detail) in outcomes.items()
            ],
        )

    def set_outcome(self, statement_id: str, status: str, detail: str | None) -> None:
        """Record a statement's mapping outcome."""
        self.session.execute(
            update(S)
            .where(S.c.statement_id == statement_id)
            .values(mapping_status=status, mapping_detail=detail)
        )
