"""The HR pull: an institution's completions, retractions, certificates, competency levels and
withdrawals since a cursor, each joined to the HR system's own id for the person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Date,
    Float,
    String,
    and_,
    case,
    cast,
    exists,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from learning_records.changes.service import change_feed
from learning_records.employment.models import Employment
from learning_records.enrolments.models import Enrolment, EnrolmentStatusChange
from learning_records.hr.models import HrWithdrawal
from learning_records.models import utcnow
from learning_records.people.access import institution_visible, record_visible
from learning_records.people.models import Person, PersonLink
from learning_records.reference.service import course_titles
from learning_records.results.models import Certificate, CompetencyAssessment
from pilnveide_kit.auth import Principal
from pilnveide_kit.pagination import count_of

#: The columns of every item, in order, with their SQL types (for the typed NULLs of a UNION).
COLUMNS: dict[str, Any] = {
    "seq": None,
    "type": String,
    "record_source_system": String,
    "record_external_id": String,
    "source_system": String,
    "external_id": String,
    "pseudonym": String,
    "display_name": String,
    "institution": String,
    "course_code": String,
    "hours": Float,
    "date": Date,
    "status": String,
    "valid_until": Date,
    "framework": String,
    "competency": String,
    "level": Float,
    "method": String,
    "reason": String,
}
#: The records whose withdrawal an HR system hears of.
WITHDRAWN_TABLES: dict[str, Any] = {
    "enrolment": Enrolment,
    "certificate": Certificate,
    "assessment": CompetencyAssessment,
}


def _select(**given: Any) -> Any:
    """A SELECT of every item column: the given ones, typed NULLs for the rest."""
    return select(
        *[
            (given[name] if name in given else cast(null(), kind)).label(name)
            for name, kind in COLUMNS.items()
        ]
    )


def _link(person_id: Any, institution: str, principal: Principal, column: Any) -> Any:
    """The institution's earliest link of the person (its HR system's own id)."""
    return (
        select(column)
        .where(
            col(PersonLink.person_id) == person_id,
            col(PersonLink.institution) == institution,
            record_visible(principal, PersonLink),
        )
        .order_by(col(PersonLink.id))
        .limit(1)
        .scalar_subquery()
    )


def _display_name(person_id: Any, institution: str, principal: Principal) -> Any:
    return _link(person_id, institution, principal, col(PersonLink.display_name))


def hr_updates(
    session: Session,
    principal: Principal,
    institution: str,
    *,
    after: int,
    position: int,
    limit: int,
    today: Any,
) -> tuple[list[dict[str, Any]], int]:
    """Up to limit items with a sequence number above position, in order, and how many items
    there are above after (where the paging started: `count` of the one list shape)."""
    p = Person
    employees = select(col(Employment.person_id)).where(
        col(Employment.institution) == institution,
        record_visible(principal, Employment),
        or_(col(Employment.valid_to).is_(None), col(Employment.valid_to) >= today),
    )
    own = {
        table: and_(col(table.institution) == institution, record_visible(principal, table))
        for table in (Enrolment, Certificate, CompetencyAssessment)
    }

    def person(table: Any) -> dict[str, Any]:
        link = col(PersonLink.source_system), col(PersonLink.external_id)
        return {
            "record_source_system": col(table.source_system),
            "record_external_id": col(table.external_id),
            "source_system": _link(col(p.id), institution, principal, link[0]),
            "external_id": _link(col(p.id), institution, principal, link[1]),
            "pseudonym": col(p.pseudonym),
            "display_name": _display_name(col(p.id), institution, principal),
            "institution": col(table.institution),
        }

    # Asked only of enrolments not completed now: every completed step they had is a history
    # row (the current step alone may live only in the enrolment row; enrolments/history.py).
    was_completed = exists(
        select(col(EnrolmentStatusChange.id)).where(
            col(EnrolmentStatusChange.enrolment_id) == col(Enrolment.id),
            col(EnrolmentStatusChange.status) == "completed",
        )
    )
    enrolments = (
        _select(
            seq=col(Enrolment.seq),
            type=case(
                (col(Enrolment.status) == "completed", literal("completion")),
                else_=literal("retraction"),
            ),
            **person(Enrolment),
            course_code=col(Enrolment.course_code),
            hours=cast(col(Enrolment.hours), Float),
            date=col(Enrolment.status_date),
            status=col(Enrolment.status),
        )
        .join(p, col(p.id) == col(Enrolment.person_id))
        .where(
            own[Enrolment],
            col(Enrolment.seq) > after,
            or_(
                and_(col(Enrolment.status) == "completed", col(Enrolment.person_id).in_(employees)),
                and_(col(Enrolment.status) != "completed", was_completed),
            ),
        )
    )
    certificates = (
        _select(
            seq=col(Certificate.seq),
            type=literal("certificate"),
            **person(Certificate),
            course_code=col(Certificate.course_code),
            date=col(Certificate.issued_on),
            status=case(
                (col(Certificate.revoked_on).is_not(None), literal("revoked")),
                else_=literal("issued"),
            ),
            valid_until=col(Certificate.valid_until),
        )
        .join(p, col(p.id) == col(Certificate.person_id))
        .where(
            own[Certificate],
            col(Certificate.person_id).in_(employees),
            col(Certificate.seq) > after,
        )
    )
    a = CompetencyAssessment
    assessments = (
        _select(
            seq=col(a.seq),
            type=literal("assessment"),
            **person(a),
            date=col(a.assessed_on),
            framework=col(a.framework),
            competency=col(a.competency),
            level=cast(col(a.level), Float),
            method=col(a.method),
        )
        .join(p, col(p.id) == col(a.person_id))
        .where(own[a], col(a.person_id).in_(employees), col(a.seq) > after)
    )
    w = HrWithdrawal
    withdrawals = _select(
        seq=col(w.seq),
        type=literal("withdrawal"),
        record_source_system=col(w.record_source_system),
        record_external_id=col(w.record_external_id),
        institution=col(w.institution),
        date=col(w.withdrawn_on),
        status=col(w.record_type),
        reason=col(w.reason),
    ).where(
        col(w.institution) == institution,
        institution_visible(principal, w.institution),
        col(w.seq) > after,
    )
    union = union_all(enrolments, certificates, assessments, withdrawals).subquery()
    total = count_of(session, select(union))
    page = select(union).where(union.c.seq > position).order_by(union.c.seq).limit(limit)
    rows = [dict(r) for r in session.execute(page).mappings()]
    titles = course_titles(session, [r["course_code"] for r in rows if r["course_code"]])
    for row in rows:
        row["course_title"] = titles.get(row["course_code"]) if row["course_code"] else None
    return rows, total


def record_withdrawals(session: Session, person_id: int, reason: str) -> int:
    """Note, before a person's records go, which of them each institution's HR must drop."""
    feed = change_feed(session)
    rows: list[HrWithdrawal] = []
    now = utcnow()
    for record_type, table in WITHDRAWN_TABLES.items():
        query = select(
            col(table.id), col(table.institution), col(table.source_system), col(table.external_id)
        ).where(table.person_id == person_id, col(table.institution).is_not(None))
        if table is Enrolment:
            query = query.where(
                or_(
                    col(Enrolment.status) == "completed",
                    exists(
                        select(col(EnrolmentStatusChange.id)).where(
                            col(EnrolmentStatusChange.enrolment_id) == col(Enrolment.id),
                            col(EnrolmentStatusChange.status) == "completed",
                        )
                    ),
                )
            )
        for record_id, institution, system, external in session.execute(
            query.order_by(col(table.id))
        ).all():
            rows.append(
                HrWithdrawal(
                    seq=feed.record("hr_withdrawal", "create", f"{record_type}:{record_id}"),
                    institution=institution,
                    record_type=record_type,
                    record_source_system=system,
                    record_external_id=external,
                    reason=reason,
                    withdrawn_on=now.date(),
                    at=now,
                )
            )
    session.add_all(rows)
    session.flush()
    return len(rows)
