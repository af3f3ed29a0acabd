"""Competency gaps over HTTP: per person, per position group of an institution, per institution."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from learning_records.competencies import service
from learning_records.competencies.schemas import (
    CompetencyGap,
    GapSummaries,
    GapSummary,
    InstitutionGaps,
    PersonGaps,
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

router = APIRouter(prefix="/v1", tags=["competency gaps"])

ReaderDep = Annotated[Principal, require("records:read")]
Institution = Annotated[str, Path(max_length=32)]
AsOf = Annotated[
    date | None, Query(description="Employment and roles current on this date (default: today)")
]
Framework = Annotated[
    str | None, Query(max_length=64, description="Only this framework (default: every one)")
]
PositionGroup = Annotated[
    str | None, Query(max_length=64, description="Only employees of this position group")
]
GAP_FIELDS = list(CompetencyGap.model_fields)
SUMMARY_FIELDS = list(GapSummary.model_fields)


@router.get(
    "/people/{pseudonym}/competency-gaps",
    response_model=PersonGaps,
    summary="A person's competency gaps",
    responses=ALSO_CSV,
)
def person_competency_gaps(
    request: Request,
    pseudonym: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    principal: ReaderDep,
    framework: Framework = None,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """Each competency the person's current position group, management level or roles require
    (catalog framework requirements), with the latest assessed level, its method and date, and
    the gap (required − assessed)."""
    person_id = visible_person_id(session, pseudonym, principal)
    day = as_of or date.today()
    rows = service.gaps(session, principal, day, person_id=person_id, framework=framework)
    if csv_requested(request, format):
        dumped = [r.model_dump(mode="json") for r in rows]
        return csv_response(dumped, GAP_FIELDS, filename="competency-gaps.csv")
    return PersonGaps(pseudonym=pseudonym, as_of=day, gaps=rows)


@router.get(
    "/institutions/{institution}/competency-gaps",
    response_model=InstitutionGaps,
    summary="An institution's competency gaps (or one position group's)",
    responses=ALSO_CSV,
)
def institution_competency_gaps(
    request: Request,
    institution: Institution,
    session: SessionDep,
    principal: ReaderDep,
    position_group: PositionGroup = None,
    framework: Framework = None,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """Every current employee's required competencies with assessed level and gap, and the
    summary per position group; CSV gives the rows."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.gaps(
        session,
        principal,
        day,
        institution=institution,
        position_group=position_group,
        framework=framework,
    )
    if csv_requested(request, format):
        dumped = [r.model_dump(mode="json") for r in rows]
        return csv_response(dumped, GAP_FIELDS, filename="competency-gaps.csv")
    return InstitutionGaps(
        institution=institution,
        position_group=position_group,
        as_of=day,
        people=len({r.pseudonym for r in rows}),
        gaps=rows,
        summary=service.summarise(rows),
    )


@router.get(
    "/institutions/{institution}/competency-gaps/summary",
    response_model=GapSummaries,
    summary="How many people meet each requirement, per position group",
    responses=ALSO_CSV,
)
def institution_competency_gap_summary(
    request: Request,
    institution: Institution,
    session: SessionDep,
    principal: ReaderDep,
    position_group: PositionGroup = None,
    framework: Framework = None,
    as_of: AsOf = None,
    format: CsvFormat = None,
) -> Any:
    """Per position group, competency and required level: people, meeting, below, not assessed."""
    check_institution(principal, institution)
    day = as_of or date.today()
    rows = service.gaps(
        session,
        principal,
        day,
        institution=institution,
        position_group=position_group,
        framework=framework,
    )
    summary = service.summarise(rows)
    if csv_requested(request, format):
        dumped = [s.model_dump(mode="json") for s in summary]
        return csv_response(dumped, SUMMARY_FIELDS, filename="competency-gap-summary.csv")
    return GapSummaries(
        institution=institution, position_group=position_group, as_of=day, summary=summary
    )


# `….csv` twins: the same rows as CSV, an operation of their own for generated clients.
add_csv_exports(
    router,
    "/v1/people/{pseudonym}/competency-gaps",
    "/v1/institutions/{institution}/competency-gaps",
    "/v1/institutions/{institution}/competency-gaps/summary",
)
