"""The HR pull over HTTP: what changed for an institution since a cursor, as JSON or CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from learning_records.hr.service import hr_updates
from learning_records.people.service import check_institution
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_BIGINT
from pilnveide_kit.csv_export import (
    ALSO_CSV,
    CsvFormat,
    add_csv_exports,
    csv_requested,
    csv_response,
)
from pilnveide_kit.pagination import MAX_LIMIT, Page, feed_cursor, feed_position

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


class HrUpdates(Page[HrUpdate]):
    """A page of HR updates (the one list shape): `count` is how many updates follow the `after`
    the paging started from; `resume_after` is what to pass as `after` to pull later."""

    resume_after: int


@router.get(
    "/hr/{institution}/updates",
    response_model=HrUpdates,
    summary="HR pull: completions, retractions, certificates, competency levels, withdrawals",
    responses=ALSO_CSV,
)
def hr_pull(
    request: Request,
    institution: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: ReaderDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="resume_after of the previous pull")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")
    ] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    format: CsvFormat = None,
) -> Any:
    """The institution's own records since a cursor, in change order, each with the HR
    system's own id for the person, the course title and hours; changes and retractions are
    items of their own, and an erased person's records come back as withdrawals without
    personal data. Other institutions' records never. `count` is a count of the institution's
    updates after `after` (one pass over them)."""
    check_institution(principal, institution)
    start, position = feed_position(after, cursor)
    rows, total = hr_updates(
        session,
        principal,
        institution,
        after=start,
        position=position,
        limit=limit + 1,
        today=dt.date.today(),
    )
    data = [HrUpdate.model_validate(r) for r in rows[:limit]]
    resume_after = data[-1].seq if data else position
    next_cursor = feed_cursor(resume_after, start) if len(rows) > limit else None
    if csv_requested(request, format):
        headers = {"X-Resume-After": str(resume_after), "X-Total-Count": str(total)}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        return csv_response(
            [u.model_dump(mode="json") for u in data],
            list(HrUpdate.model_fields),
            filename="hr-updates.csv",
            headers=headers,
        )
    return HrUpdates(data=data, count=total, next_cursor=next_cursor, resume_after=resume_after)


add_csv_exports(router, "/v1/hr/{institution}/updates")  # the HR pull as text/csv
