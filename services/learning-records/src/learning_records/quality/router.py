"""Data-quality views for the institutions and the systems that send records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from learning_records.quality.service import UnknownCourse, UnknownCourses, unknown_courses
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.csv_export import (
    ALSO_CSV,
    CsvFormat,
    add_csv_exports,
    csv_requested,
    csv_response,
)

router = APIRouter(prefix="/v1/data-quality", tags=["data quality"])
#: The CSV columns: which check found the row, then the row's fields.
CSV_FIELDS = ["issue", *UnknownCourse.model_fields]


def _csv_rows(report: UnknownCourses) -> list[dict[str, Any]]:
    return [{"issue": report.issue, **row.model_dump(mode="json")} for row in report.data]


@router.get(
    "/unknown-courses",
    response_model=UnknownCourses,
    summary="Enrolments in courses the catalog lacks",
    responses=ALSO_CSV,
)
def list_unknown_courses(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
    institution: str | None = None,
    source_system: str | None = None,
    format: CsvFormat = None,
) -> Response:
    """Per institution and source system: stored enrolments whose course code the catalog has
    not got. They are not counted by any indicator until the catalog gains the course, then
    they are counted with no further step. Only the client's own institutions are listed."""
    report = unknown_courses(
        session, principal, institution=institution, source_system=source_system
    )
    if csv_requested(request, format):
        return csv_response(_csv_rows(report), CSV_FIELDS, filename="unknown-courses.csv")
    return JSONResponse(report.model_dump(mode="json"))


add_csv_exports(router, "/v1/data-quality/unknown-courses")  # the report as text/csv
