"""The HR pull over HTTP: what changed for an institution since a cursor, as JSON or CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from learning_records.csv_export import CSV_RESPONSE, csv_response
from learning_records.hr.service import hr_updates
from learning_records.people.service import check_institution
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_BIGINT

router = APIRouter(prefix="/v1", tags=["people"])

ReaderDep = Annotated[Principal, require("records:read")]


class HrUpdate(BaseModel):
    """One item for an HR system.

    completion: an enrolment completed; retraction: an enrolment once completed now has
    another status (`status`, e.g. cancelled); certificate (status issued or revoked);
    assessment (a competency level); withdrawal: the record named by record_source_system and
    record_external_id is gone (`reason`, e.g. person_erased; `status` names its kind) and
    carries no personal data.
    """

    seq: int
    type: Literal["completion", "retraction", "certificate", "assessment", "withdrawal"]
    pseudonym: str | None
    display_name: str | None
    course_code: str | None
    date: dt.date
    status: str | None
    valid_until: dt.date | None
    framework: str | None
    competency: str | None
    level: float | None
    #: The person's id in this institution's HR system (where it pushed the link).
    source_system: str | None
    external_id: str | None
    institution: str | None
    course_title: str | None
    hours: float | None
    method: str | None
    #: The record's own id in the system that wrote it (the enrolment, certificate…).
    record_source_system: str | None
    record_external_id: str | None
    reason: str | None


class HrUpdates(BaseModel):
    """A page of HR updates; pass next_after as `after` for the next page."""

    data: list[HrUpdate]
    next_after: int


@router.get(
    "/hr/{institution}/updates",
    response_model=HrUpdates,
    summary="HR pull: completions, retractions, certificates, competency levels, withdrawals",
    responses=CSV_RESPONSE,
)
def hr_pull(
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="next_after of the previous pull")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """The institution's own records since a cursor, in change order, each with the HR
    system's own id for the person, the course title and hours; changes and retractions are
    items of their own, and an erased person's records come back as withdrawals without
    personal data. Other institutions' records never."""
    check_institution(principal, institution)
    rows = hr_updates(
        session, principal, institution, after=after, limit=limit, today=dt.date.today()
    )
    data = [HrUpdate.model_validate(r) for r in rows]
    next_after = data[-1].seq if data else after
    if format == "csv":
        return csv_response(
            [u.model_dump(mode="json") for u in data],
            list(HrUpdate.model_fields),
            filename="hr-updates.csv",
            headers={"X-Next-After": str(next_after)},
        )
    return HrUpdates(data=data, next_after=next_after)
