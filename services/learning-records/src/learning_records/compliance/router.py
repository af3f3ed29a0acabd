"""Compliance over HTTP: mandatory learning per person and institution, expiring certificates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from learning_records.compliance import service
from learning_records.compliance.schemas import (
    ComplianceStatus,
    ExpiringCertificate,
    ExpiringCertificates,
    InstitutionCompliance,
    Obligation,
    PersonCompliance,
)
from learning_records.csv_export import CSV_RESPONSE, csv_response
from learning_records.people.service import check_institution, visible_person_id
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require

router = APIRouter(prefix="/v1", tags=["compliance"])

ReaderDep = Annotated[Principal, require("records:read")]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
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
    responses=CSV_RESPONSE,
)
def person_compliance(
    pseudonym: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    principal: ReaderDep,
    rule: Rule = None,
    as_of: AsOf = None,
    format: Format = "json",
) -> Any:
    """Each mandatory learning rule (catalog) that applies to the person's current employment:
    met (with the course and date), due (inside its period) or missing (since its due date)."""
    person_id = visible_person_id(session, pseudonym, principal)
    day = as_of or date.today()
    rows = service.obligations(session, principal, day, person_id=person_id, rule=rule)
    if format == "csv":
        return csv_response(_rows(rows), OBLIGATION_FIELDS, filename="compliance.csv")
    return PersonCompliance(pseudonym=pseudonym, as_of=day, obligations=rows)


@router.get(
    "/institutions/{institution}/compliance",
    response_model=InstitutionCompliance,
    summary="Who is missing which mandatory learning, since when",
    responses=CSV_RESPONSE,
)
def institution_compliance(
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    status: Annotated[
        list[ComplianceStatus] | None,
        Query(description="Only these statuses (repeat the parameter); default: all"),
    ] = None,
    rule: Rule = None,
    as_of: AsOf = None,
    format: Format = "json",
) -> Any:
    """Every current employee's mandatory learning, with a summary per rule (counted before the
    status filter); CSV gives the rows."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.obligations(session, principal, day, institution=institution, rule=rule)
    summary = service.summarise(rows)
    if status:
        rows = [r for r in rows if r.status in status]
    if format == "csv":
        return csv_response(_rows(rows), OBLIGATION_FIELDS, filename="compliance.csv")
    return InstitutionCompliance(
        institution=institution, as_of=day, obligations=rows, summary=summary
    )


@router.get(
    "/institutions/{institution}/certificates/expiring",
    response_model=ExpiringCertificates,
    summary="Certificates expired or expiring within N days",
    responses=CSV_RESPONSE,
)
def expiring_certificates(
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    within_days: Annotated[int, Query(ge=0, le=3650, description="The window, in days")] = 30,
    as_of: AsOf = None,
    format: Format = "json",
) -> Any:
    """The institution's unrevoked certificates whose validity ended or ends within the window,
    not renewed by a later one of the same course; soonest first."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.expiring_certificates(session, principal, institution, day, within_days)
    if format == "csv":
        dumped = [r.model_dump(mode="json") for r in rows]
        return csv_response(dumped, CERTIFICATE_FIELDS, filename="expiring-certificates.csv")
    return ExpiringCertificates(
        institution=institution, as_of=day, within_days=within_days, certificates=rows
    )
