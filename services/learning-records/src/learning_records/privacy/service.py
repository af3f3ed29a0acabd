"""Data protection: erase a person entirely, or delete records older than a date (dry run first)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlmodel import Session, col

from learning_records.changes.service import change_feed
from learning_records.employment.models import Employment, RoleAssignment
from learning_records.enrolments.history import count_steps
from learning_records.enrolments.models import (
    AppliedLearningEvent,
    Enrolment,
    EnrolmentStatusChange,
)
from learning_records.hr.service import record_withdrawals
from learning_records.mailboxes.models import PersonMailbox
from learning_records.people.access import person_visible
from learning_records.people.models import Person, PersonLink
from learning_records.results.models import (
    Certificate,
    CompetencyAssessment,
    Feedback,
    TestAttempt,
)
from learning_records.xapi.erasure import erase_xapi_person
from pilnveide_kit.auth import Principal
from pilnveide_kit.errors import NotFound


class PersonNotFound(NotFound):
    """No person with this pseudonym among the client's institutions."""


_PERSON_TABLES: list[Any] = [
    PersonLink,
    PersonMailbox,
    Employment,
    RoleAssignment,
    Enrolment,
    TestAttempt,
    Certificate,
    Feedback,
    CompetencyAssessment,
]


def find_person(session: Session, pseudonym: str, principal: Principal) -> int:
    """The id of a person the client may see; PersonNotFound otherwise."""
    person_id = session.execute(
        select(col(Person.id)).where(
            col(Person.pseudonym) == pseudonym, person_visible(principal, col(Person.id))
        )
    ).scalar_one_or_none()
    if person_id is None:
        raise PersonNotFound("No person with this pseudonym")
    return int(person_id)


def _count(session: Session, table: Any, condition: ColumnElement[bool]) -> int:
    return int(
        session.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    )


def erase_person(session: Session, person_id: int, *, dry_run: bool) -> dict[str, int]:
    """Rows per table about the person; unless dry_run, delete them all and leave a tombstone."""
    enrolment_ids = select(col(Enrolment.id)).where(col(Enrolment.person_id) == person_id)
    counts = {"person": 1}
    for table in _PERSON_TABLES:
        counts[table.__tablename__] = _count(session, table, table.person_id == person_id)
    # Status steps, as the person's history shows them: the current ones live in the enrolment
    # rows (enrolments/history.py), so the count is more than the history rows deleted.
    counts["enrolment_status_change"] = count_steps(session, enrolment_ids)
    counts["learning_event"] = _count(
        session, AppliedLearningEvent, col(AppliedLearningEvent.enrolment_id).in_(enrolment_ids)
    )
    pseudonym = session.scalar(select(col(Person.pseudonym)).where(col(Person.id) == person_id))
    counts.update(erase_xapi_person(session, str(pseudonym), dry_run=dry_run))
    if dry_run:
        return counts
    feed = change_feed(session)
    # Each institution's HR pull hears which of its records went (with no personal data).
    record_withdrawals(session, person_id, "person_erased")
    # Children first, so the result does not depend on the database enforcing cascades.
    session.execute(
        delete(EnrolmentStatusChange).where(
            col(EnrolmentStatusChange.enrolment_id).in_(enrolment_ids)
        )
    )
    session.execute(delete(TestAttempt).where(col(TestAttempt.person_id) == person_id))
    session.execute(
        delete(AppliedLearningEvent).where(
            col(AppliedLearningEvent.enrolment_id).in_(enrolment_ids)
        )
    )
    for table in reversed(_PERSON_TABLES):
        session.execute(delete(table).where(table.person_id == person_id))
    session.execute(delete(Person).where(col(Person.id) == person_id))
    feed.record("person", "erase", person_id)
    feed.flush()
    return counts


def delete_older_than(session: Session, before: date, *, dry_run: bool) -> dict[str, int]:
    """Rows per table dated before a date (and people left with nothing); deleted unless dry_run."""
    old_enrolments = select(col(Enrolment.id)).where(col(Enrolment.status_date) < before)
    conditions: list[tuple[Any, ColumnElement[bool]]] = [
        (EnrolmentStatusChange, col(EnrolmentStatusChange.enrolment_id).in_(old_enrolments)),
        (AppliedLearningEvent, col(AppliedLearningEvent.enrolment_id).in_(old_enrolments)),
        (TestAttempt, col(TestAttempt.attempted_on) < before),
        (Enrolment, col(Enrolment.status_date) < before),
        (
            Certificate,
            func.coalesce(col(Certificate.valid_until), col(Certificate.issued_on)) < before,
        ),
        (Feedback, col(Feedback.submitted_on) < before),
        (CompetencyAssessment, col(CompetencyAssessment.assessed_on) < before),
        (RoleAssignment, col(RoleAssignment.valid_to) < before),
        (Employment, col(Employment.valid_to) < before),
    ]
    # Status steps as the history shows them (enrolments/history.py), rows for the rest.
    counts = {
        table.__tablename__: count_steps(session, old_enrolments)
        if table is EnrolmentStatusChange
        else _count(session, table, cond)
        for table, cond in conditions
    }
    if dry_run:
        counts["person"] = -1  # known only after the records are gone; see the real run
        return counts
    feed = change_feed(session)
    for table, condition in conditions:
        if table is Employment:
            # roles of an ended employment go with it, whatever their own end date
            session.execute(
                delete(RoleAssignment).where(
                    col(RoleAssignment.employment_id).in_(
                        select(col(Employment.id)).where(condition)
                    )
                )
            )
        session.execute(delete(table).where(condition))
    orphans = select(col(Person.id)).where(
        *[
            ~_has(table, Person.id)
            for table in (
                Employment,
                Enrolment,
                TestAttempt,
                Certificate,
                Feedback,
                CompetencyAssessment,
            )
        ]
    )
    orphan_ids = [int(i) for i in session.execute(orphans).scalars()]
    for start in range(0, len(orphan_ids), 5000):
        part = orphan_ids[start : start + 5000]
        session.execute(delete(PersonLink).where(col(PersonLink.person_id).in_(part)))
        session.execute(delete(PersonMailbox).where(col(PersonMailbox.person_id).in_(part)))
        session.execute(delete(Person).where(col(Person.id).in_(part)))
    counts["person"] = len(orphan_ids)
    feed.record("retention", "delete", before.isoformat())
    feed.flush()
    return counts


def _has(table: Any, person_id: Any) -> Any:
    return select(table.id).where(table.person_id == person_id).exists()
