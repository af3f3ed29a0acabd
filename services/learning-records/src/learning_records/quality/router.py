"""Data-quality views for the institutions and the systems that send records."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from learning_records.quality.service import UnknownCourse, UnknownCourses, unknown_courses
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.csv_export import add_csv_exports, csv_requested

router = APIRouter(prefix="/v1/data-quality", tags=["data quality"])


def _csv(report: UnknownCourses) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(UnknownCourse.model_fields)
    writer.writerow(["issue", *columns])
    for row in report.data:
        values = row.model_dump(mode="json")
        writer.writerow([report.issue, *["" if values[c] is None else values[c] for c in columns]])
    return out.getvalue()


@router.get(
    "/unknown-courses",
    response_model=UnknownCourses,
    summary="Enrolments in courses the catalog lacks",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def list_unknown_courses(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
    institution: str | None = None,
    source_system: str | None = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="json or csv (default: by the Accept header, else json)"),
    ] = None,
) -> Response:
    """Per institution and source system: stored enrolments whose course code the catalog has
    not got. They are not counted by any indicator until the catalog gains the course, then
    they are counted with no further step. Only the client's own institutions are listed."""
    report = unknown_courses(
        session, principal, institution=institution, source_system=source_system
    )
    if csv_requested(request, format):
        return Response(
            _csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="unknown-courses.csv"'},
        )
    return JSONResponse(report.model_dump(mode="json"))


add_csv_exports(router, "/v1/data-quality/unknown-courses")  # the report as text/csv
