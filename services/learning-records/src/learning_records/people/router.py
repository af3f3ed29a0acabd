"""A person's learning history and competency profile (JSON or CSV); finding people by code,
one or up to 1,000 per call."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    case,
    func,
    select,
)
from sqlmodel import Session, col

from learning_records.employment.models import Employment, RoleAssignment
from learning_records.enrolments.history import timelines
from learning_records.enrolments.models import Enrolment
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
from pilnveide_kit.csv_export import (
    ALSO_CSV,
    CsvFormat,
    add_csv_exports,
    csv_requested,
    csv_response,
)
from pilnveide_kit.errors import NotFound, UnprocessableContent

router = APIRouter(prefix="/v1", tags=["people"])

ReaderDep = Annotated[Principal, require("records:read")]
#: Most personal codes one bulk lookup takes.
BULK_LOOKUP_LIMIT = 1000


class PersonNotFound(NotFound):
    """No such person among the client's institutions."""


class InvalidCode(UnprocessableContent):
    """The personal code is malformed."""


class LookupRequest(BaseModel):
    """A personal code to turn into this service's pseudonym (sent in the body, never a URL)."""

    model_config = ConfigDict(extra="forbid")

    personal_code: str = Field(max_length=20)


class BulkLookupRequest(BaseModel):
    """Personal codes to turn into pseudonyms, answered one by one in the same order."""

    model_config = ConfigDict(extra="forbid")

    personal_codes: list[Annotated[str, Field(max_length=20)]] = Field(
        min_length=1, max_length=BULK_LOOKUP_LIMIT
    )


class LookupAnswer(BaseModel):
    """The answer for one code of a bulk lookup (the code itself is not echoed)."""

    index: int
    status: Literal["found", "not_found", "invalid"]
    pseudonym: str | None = None
    display_name: str | None = None
    reason: str | None = None


class BulkLookupResult(BaseModel):
    """One answer per code sent, in the order sent."""

    found: int
    results: list[LookupAnswer]


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


@router.post(
    "/people/lookup/bulk",
    response_model=BulkLookupResult,
    summary="Find up to 1,000 people by code in one call",
)
def lookup_people(
    body: BulkLookupRequest, request: Request, session: SessionDep, principal: ReaderDep
) -> BulkLookupResult:
    """The pseudonym of each person the client may see, one answer per code in the order sent:
    found (pseudonym, display name), not_found (unknown, or none of the client's institutions
    holds a record of them) or invalid (a malformed code, with the reason)."""
    pepper = request.app.state.settings.pseudonym_pepper
    answers: list[LookupAnswer] = []
    wanted: dict[int, str] = {}
    for index, personal_code in enumerate(body.personal_codes):
        try:
            wanted[index] = pseudonymise(personal_code, pepper)
        except InvalidPersonalCode as exc:
            answers.append(LookupAnswer(index=index, status="invalid", reason=str(exc)))
    known = {
        str(pseudonym): name
        for pseudonym, name in session.execute(
            select(col(Person.pseudonym), _display_name(col(Person.id), principal)).where(
                col(Person.pseudonym).in_(sorted(set(wanted.values()))),
                person_visible(principal, col(Person.id)),
            )
        ).all()
    }
    for index, pseudonym in wanted.items():
        if pseudonym in known:
            answers.append(
                LookupAnswer(
                    index=index,
                    status="found",
                    pseudonym=pseudonym,
                    display_name=known[pseudonym],
                )
            )
        else:
            answers.append(LookupAnswer(index=index, status="not_found"))
    answers.sort(key=lambda a: a.index)
    return BulkLookupResult(found=sum(a.status == "found" for a in answers), results=answers)


#: The columns of a learning history as CSV: one line per record, its kind first.
HISTORY_FIELDS = [
    "record",
    "id",
    "institution",
    "source_system",
    "external_id",
    "date",
    "end_date",
    "course_code",
    "session_code",
    "status",
    "hours",
    "score",
    "max_score",
    "passed",
    "certificate_number",
    "valid_until",
    "revoked_on",
    "rating",
    "applied_at_work",
    "position_group",
    "management_level",
    "civil_servant",
    "roles",
    "framework",
    "competency",
    "level",
    "method",
]
#: Per list of the history: the kind of record and which of its fields is the line's date.
HISTORY_DATES = {
    "employment": ("employment", "valid_from"),
    "enrolments": ("enrolment", "status_date"),
    "test_attempts": ("test_attempt", "attempted_on"),
    "certificates": ("certificate", "issued_on"),
    "feedback": ("feedback", "submitted_on"),
    "assessments": ("assessment", "assessed_on"),
}


def _history_lines(history: LearningHistory) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for part, (record, date_field) in HISTORY_DATES.items():
        for row in getattr(history, part):
            line = {**row, "record": record, "date": row.get(date_field)}
            if record == "employment":
                line["end_date"] = row.get("valid_to")
                line["roles"] = ";".join(r["role"] for r in row.get("roles") or [])
            if record == "feedback":
                line["status"] = row.get("kind")
            lines.append(line)
    return lines


@router.get(
    "/people/{pseudonym}/history",
    response_model=LearningHistory,
    summary="Learning history",
    responses=ALSO_CSV,
)
def person_history(
    request: Request,
    pseudonym: str,
    session: SessionDep,
    principal: ReaderDep,
    format: CsvFormat = None,
) -> Any:
    """A person's employment, enrolments (with status history), tests, certificates, feedback;
    as CSV one line per record (`record` names its kind)."""
    person_id, person = _person(session, pseudonym, principal)
    enrolments = _rows(session, Enrolment, person_id, Enrolment.status_date, principal)
    steps = timelines(session, enrolments)
    for enrolment in enrolments:
        enrolment["status_history"] = steps[enrolment["id"]]
    employment = _rows(session, Employment, person_id, Employment.valid_from, principal)
    roles = _rows(session, RoleAssignment, person_id, RoleAssignment.valid_from, principal)
    for job in employment:
        job["roles"] = [r for r in roles if r["employment_id"] == job["id"]]
    history = LearningHistory(
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
    if csv_requested(request, format):
        return csv_response(_history_lines(history), HISTORY_FIELDS, filename="history.csv")
    return history


@router.get(
    "/people/{pseudonym}/competencies",
    response_model=CompetencyProfile,
    summary="Competency profile",
    responses=ALSO_CSV,
)
def person_competencies(
    request: Request,
    pseudonym: str,
    session: SessionDep,
    principal: ReaderDep,
    format: CsvFormat = None,
) -> Any:
    """The latest assessed level of each competency of a person (JSON, or CSV)."""
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
    levels = [
        CompetencyLevel(framework=f, competency=c, level=lv, method=m, assessed_on=d)
        for f, c, lv, m, d in rows
    ]
    if csv_requested(request, format):
        return csv_response(
            [lv.model_dump(mode="json") for lv in levels],
            list(CompetencyLevel.model_fields),
            filename="competencies.csv",
        )
    return CompetencyProfile(person=person, competencies=levels)


# `….csv` twins: the same lines as CSV, an operation of their own for generated clients.
add_csv_exports(router, "/v1/people/{pseudonym}/history", "/v1/people/{pseudonym}/competencies")
