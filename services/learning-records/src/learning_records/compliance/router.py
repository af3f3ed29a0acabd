"""Compliance over HTTP: mandatory learning per person and institution, expiring certificates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from learning_records.compliance import service
from learning_records.compliance.schemas import (
    ComplianceStatus,
    ExpiringCertificate,
    ExpiringCertificates,
    InstitutionCompliance,
    Obligation,
    PersonCompliance,
)
from learning_records.people.service import check_institution, visible_person_id
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.csv_export import (
    ALSO_CSV,
    CsvFormat,
    add_csv_exports,
    csv_requested,
    csv_response,
)

router = APIRouter(prefix="/v1", tags=["compliance"])

ReaderDep = Annotated[Principal, require("records:read")]
AsOf = Annotated[date | None, Query(description="The day judged (default: today)")]
Rule = Annotated[str | None, Query(max_length=64, description="Only this rule (catalog code)")]
OBLIGATION_FIELDS = [f for f in Obligation.model_fields if f != "courses"]
CERTIFICATE_FIELDS = list(ExpiringCertificate.model_fields)


def _rows(obligations: list[Obligation]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json", exclude={"courses"}) for o in obligations]


@router.get(
    "/people/{pseudonym}/compliance",
    response_model=PersonCompliance,
    summary="A person's mandatory learning",
    responses=ALSO_CSV,
)
def person_compliance(
    request: Request,
    pseudonym: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    principal: ReaderDep,
    rule: Rule = None,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """Each mandatory learning rule (catalog) that applies to the person's current employment:
    met (with the course and date), due (inside its period) or missing (since its due date)."""
    person_id = visible_person_id(session, pseudonym, principal)
    day = as_of or date.today()
    rows = service.obligations(session, principal, day, person_id=person_id, rule=rule)
    if csv_requested(request, format):
        return csv_response(_rows(rows), OBLIGATION_FIELDS, filename="compliance.csv")
    return PersonCompliance(pseudonym=pseudonym, as_of=day, obligations=rows)


@router.get(
    "/institutions/{institution}/compliance",
    response_model=InstitutionCompliance,
    summary="Who is missing which mandatory learning, since when",
    responses=ALSO_CSV,
)
def institution_compliance(
    request: Request,
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    status: Annotated[
        list[ComplianceStatus] | None,
        Query(description="Only these statuses (repeat the parameter); default: all"),
    ] = None,
    rule: Rule = None,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """Every current employee's mandatory learning, with a summary per rule (counted before the
    status filter); CSV gives the rows."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.obligations(session, principal, day, institution=institution, rule=rule)
    summary = service.summarise(rows)
    if status:
        rows = [r for r in rows if r.status in status]
    if csv_requested(request, format):
        return csv_response(_rows(rows), OBLIGATION_FIELDS, filename="compliance.csv")
    return InstitutionCompliance(
        institution=institution, as_of=day, obligations=rows, summary=summary
    )


@router.get(
    "/institutions/{institution}/certificates/expiring",
    response_model=ExpiringCertificates,
    summary="Certificates expired or expiring within N days",
    responses=ALSO_CSV,
)
def expiring_certificates(
    request: Request,
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    within_days: Annotated[int, Query(ge=0, le=3650, description="The window, in days")] = 30,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """The institution's unrevoked certificates whose validity ended or ends within the window,
    not renewed by a later one of the same course; soonest first."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.expiring_certificates(session, principal, institution, day, within_days)
    if csv_requested(request, format):
        dumped = [r.model_dump(mode="json") for r in rows]
        return csv_response(dumped, CERTIFICATE_FIELDS, filename="expiring-certificates.csv")
    return ExpiringCertificates(
        institution=institution, as_of=day, within_days=within_days, certificates=rows
    )


# `….csv` twins: the same rows as CSV, an operation of their own for generated clients.
add_csv_exports(
    router,
    "/v1/people/{pseudonym}/compliance",
    "/v1/institutions/{institution}/compliance",
    "/v1/institutions/{institution}/certificates/expiring",
)
