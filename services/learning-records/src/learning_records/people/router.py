"""A person's learning history and competency profile, and the HR pull of an institution."""

from __future__ import annotations

import csv
import datetime as dt
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Date,
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from learning_records.employment.models import Employment, RoleAssignment
from learning_records.enrolments.models import Enrolment, EnrolmentStatusChange
from learning_records.people.access import (
    person_visible,
    record_visible,
    role_visible,
)
from learning_records.people.models import Person, PersonLink
from learning_records.people.pseudonyms import InvalidPersonalCode, pseudonymise
from learning_records.results.models import (
    Certificate,
    CompetencyAssessment,
    Feedback,
    TestAttempt,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_BIGINT
from pilnveide_kit.csv_export import add_csv_exports, csv_requested
from pilnveide_kit.errors import NotFound, UnprocessableContent
from pilnveide_kit.pagination import MAX_LIMIT, Page, count_of, feed_cursor, feed_position

router = APIRouter(prefix="/v1", tags=["people"])

ReaderDep = Annotated[Principal, require("records:read")]


class PersonNotFound(NotFound):
    """No such person among the client's institutions."""


class InvalidCode(UnprocessableContent):
    """The personal code is malformed."""


class LookupRequest(BaseModel):
    """A personal code to turn into this service's pseudonym (sent in the body, never a URL)."""

    model_config = ConfigDict(extra="forbid")

    personal_code: str = Field(max_length=20)


class PersonPublic(BaseModel):
    """A person: the pseudonym other endpoints take, and a display name if an HR system sent one."""

    pseudonym: str
    display_name: str | None


class LearningHistory(BaseModel):
    """Everything recorded about a person's learning, oldest first within each list."""

    person: PersonPublic
    employment: list[dict[str, Any]]
    enrolments: list[dict[str, Any]]
    test_attempts: list[dict[str, Any]]
    certificates: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    assessments: list[dict[str, Any]]


class CompetencyLevel(BaseModel):
    """The latest assessed level of one competency (and by which method, when)."""

    framework: str
    competency: str
    level: int
    method: str
    assessed_on: date


class CompetencyProfile(BaseModel):
    """A person's latest level per framework and competency."""

    person: PersonPublic
    competencies: list[CompetencyLevel]


class HrUpdate(BaseModel):
    """One change for an HR system: a completion, a certificate or a competency level."""

    seq: int
    type: Literal["completion", "certificate", "assessment"]
    pseudonym: str
    display_name: str | None
    course_code: str | None
    date: dt.date
    status: str | None
    valid_until: dt.date | None
    framework: str | None
    competency: str | None
    level: float | None


class HrUpdates(Page[HrUpdate]):
    """A page of HR updates (the one list shape): `count` is how many updates follow the `after`
    the paging started from; `resume_after` is what to pass as `after` to pull later."""

    resume_after: int


def _display_name(person_id: Any, principal: Principal) -> Any:
    """The display name the client may see: from its own institutions' links only.

    An unrestricted client sees the person register's name (a link written without an
    institution) first, otherwise the name of the earliest link; another institution's later
    link never changes what it sees.
    """
    link = PersonLink
    return (
        select(col(link.display_name))
        .where(
            col(link.person_id) == person_id,
            col(link.display_name).is_not(None),
            record_visible(principal, link),
        )
        .order_by(case((col(link.institution).is_(None), 0), else_=1), col(link.id))
        .limit(1)
        .scalar_subquery()
    )


def _person(session: Session, pseudonym: str, principal: Principal) -> tuple[int, PersonPublic]:
    row = session.execute(
        select(col(Person.id), _display_name(col(Person.id), principal)).where(
            col(Person.pseudonym) == pseudonym, person_visible(principal, col(Person.id))
        )
    ).first()
    if row is None:
        raise PersonNotFound("No person with this pseudonym")
    return int(row[0]), PersonPublic(pseudonym=pseudonym, display_name=row[1])


def _rows(
    session: Session, table: Any, person_id: int, order: Any, principal: Principal
) -> list[dict[str, Any]]:
    """The person's rows of one table that belong to the client's institutions."""
    visible = (
        role_visible(principal) if table is RoleAssignment else record_visible(principal, table)
    )
    query = select(table).where(table.person_id == person_id, visible).order_by(order, table.id)
    records = session.execute(query).scalars()
    return [r.model_dump(exclude={"person_id", "content_hash"}) for r in records]


@router.post("/people/lookup", response_model=PersonPublic, summary="Find a person by code")
def lookup_person(
    body: LookupRequest, request: Request, session: SessionDep, principal: ReaderDep
) -> PersonPublic:
    """The pseudonym of a person the client may see, from their personal code."""
    try:
        pseudonym = pseudonymise(body.personal_code, request.app.state.settings.pseudonym_pepper)
    except InvalidPersonalCode as exc:
        raise InvalidCode(f"personal_code: {exc}") from exc
    return _person(session, pseudonym, principal)[1]


@router.get(
    "/people/{pseudonym}/history", response_model=LearningHistory, summary="Learning history"
)
def person_history(pseudonym: str, session: SessionDep, principal: ReaderDep) -> LearningHistory:
    """A person's employment, enrolments (with status history), tests, certificates, feedback."""
    person_id, person = _person(session, pseudonym, principal)
    enrolments = _rows(session, Enrolment, person_id, Enrolment.status_date, principal)
    steps = session.execute(
        select(EnrolmentStatusChange)
        .where(col(EnrolmentStatusChange.enrolment_id).in_([e["id"] for e in enrolments]))
        .order_by(col(EnrolmentStatusChange.seq))
    ).scalars()
    by_enrolment: dict[int, list[dict[str, Any]]] = {}
    for step in steps:
        by_enrolment.setdefault(step.enrolment_id, []).append(
            {"status": step.status, "status_date": step.status_date}
        )
    for enrolment in enrolments:
        enrolment["status_history"] = by_enrolment.get(enrolment["id"], [])
    employment = _rows(session, Employment, person_id, Employment.valid_from, principal)
    roles = _rows(session, RoleAssignment, person_id, RoleAssignment.valid_from, principal)
    for job in employment:
        job["roles"] = [r for r in roles if r["employment_id"] == job["id"]]
    return LearningHistory(
        person=person,
        employment=employment,
        enrolments=enrolments,
        test_attempts=_rows(session, TestAttempt, person_id, TestAttempt.attempted_on, principal),
        certificates=_rows(session, Certificate, person_id, Certificate.issued_on, principal),
        feedback=_rows(session, Feedback, person_id, Feedback.submitted_on, principal),
        assessments=_rows(
            session, CompetencyAssessment, person_id, CompetencyAssessment.assessed_on, principal
        ),
    )


@router.get(
    "/people/{pseudonym}/competencies",
    response_model=CompetencyProfile,
    summary="Competency profile",
)
def person_competencies(
    pseudonym: str, session: SessionDep, principal: ReaderDep
) -> CompetencyProfile:
    """The latest assessed level of each competency of a person."""
    person_id, person = _person(session, pseudonym, principal)
    a = CompetencyAssessment
    ranked = (
        select(
            col(a.framework),
            col(a.competency),
            col(a.level),
            col(a.method),
            col(a.assessed_on),
            func.row_number()
            .over(
                partition_by=[col(a.framework), col(a.competency)],
                order_by=[col(a.assessed_on).desc(), col(a.seq).desc()],
            )
            .label("rank"),
        )
        .where(col(a.person_id) == person_id, record_visible(principal, a))
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.framework,
            ranked.c.competency,
            ranked.c.level,
            ranked.c.method,
            ranked.c.assessed_on,
        )
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.framework, ranked.c.competency)
    ).all()
    return CompetencyProfile(
        person=person,
        competencies=[
            CompetencyLevel(framework=f, competency=c, level=lv, method=m, assessed_on=d)
            for f, c, lv, m, d in rows
        ],
    )


@router.get(
    "/hr/{institution}/updates",
    response_model=HrUpdates,
    summary="HR pull: completions, certificates, competency levels",
    responses={200: {"content": {"text/csv": {}}}},
)
def hr_updates(
    request: Request,
    institution: str,
    session: SessionDep,
    principal: ReaderDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="resume_after of the previous pull")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")
    ] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """The institution's own records (completions, certificates, competency levels) of its
    current employees, since a cursor, as JSON or CSV; other institutions' records never.
    `count` is a count of the institution's updates after `after` (one pass over them)."""
    after, position = feed_position(after, cursor)
    if not principal.can_see(institution):
        raise NotFound("No such institution among the client's")
    today = date.today()
    employees = select(col(Employment.person_id)).where(
        col(Employment.institution) == institution,
        record_visible(principal, Employment),
        or_(col(Employment.valid_to).is_(None), col(Employment.valid_to) >= today),
    )
    own = {
        table: and_(col(table.institution) == institution, record_visible(principal, table))
        for table in (Enrolment, Certificate, CompetencyAssessment)
    }
    display_name = _display_name(col(Person.id), principal)
    p = Person
    none_s, none_d, none_f = cast(null(), String), cast(null(), Date), cast(null(), Float)
    completions = (
        select(
            col(Enrolment.seq).label("seq"),
            literal("completion").label("type"),
            col(p.pseudonym).label("pseudonym"),
            display_name.label("display_name"),
            col(Enrolment.course_code).label("course_code"),
            col(Enrolment.status_date).label("date"),
            col(Enrolment.status).label("status"),
            none_d.label("valid_until"),
            none_s.label("framework"),
            none_s.label("competency"),
            none_f.label("level"),
        )
        .join(p, col(p.id) == col(Enrolment.person_id))
        .where(
            col(Enrolment.status) == "completed",
            own[Enrolment],
            col(Enrolment.person_id).in_(employees),
            col(Enrolment.seq) > after,
        )
    )
    certificates = (
        select(
            col(Certificate.seq),
            literal("certificate"),
            col(p.pseudonym),
            display_name,
            col(Certificate.course_code),
            col(Certificate.issued_on),
            func.coalesce(cast(col(Certificate.revoked_on), String), literal("issued")).label(
                "status"
            ),
            col(Certificate.valid_until),
            none_s,
            none_s,
            none_f,
        )
        .join(p, col(p.id) == col(Certificate.person_id))
        .where(
            own[Certificate],
            col(Certificate.person_id).in_(employees),
            col(Certificate.seq) > after,
        )
    )
    assessments = (
        select(
            col(CompetencyAssessment.seq),
            literal("assessment"),
            col(p.pseudonym),
            display_name,
            none_s,
            col(CompetencyAssessment.assessed_on),
            col(CompetencyAssessment.method),
            none_d,
            col(CompetencyAssessment.framework),
            col(CompetencyAssessment.competency),
            cast(col(CompetencyAssessment.level), Float),
        )
        .join(p, col(p.id) == col(CompetencyAssessment.person_id))
        .where(
            own[CompetencyAssessment],
            col(CompetencyAssessment.person_id).in_(employees),
            col(CompetencyAssessment.seq) > after,
        )
    )
    union = union_all(completions, certificates, assessments).subquery()
    total = count_of(session, select(union))
    rows = (
        session.execute(
            select(union).where(union.c.seq > position).order_by(union.c.seq).limit(limit + 1)
        )
        .mappings()
        .all()
    )
    data = [HrUpdate.model_validate(dict(r)) for r in rows[:limit]]
    next_after = data[-1].seq if data else position
    next_cursor = feed_cursor(next_after, after) if len(rows) > limit else None
    if csv_requested(request, format):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(HrUpdate.model_fields))
        writer.writeheader()
        for update in data:
            writer.writerow(update.model_dump())
        headers = {"X-Resume-After": str(next_after), "X-Total-Count": str(total)}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        return Response(out.getvalue(), media_type="text/csv", headers=headers)
    return HrUpdates(data=data, count=total, next_cursor=next_cursor, resume_after=next_after)


add_csv_exports(router, "/v1/hr/{institution}/updates")  # the HR pull as text/csv
