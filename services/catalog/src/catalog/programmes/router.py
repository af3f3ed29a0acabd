"""Programmes and courses over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from catalog.common.concurrency import IfMatchHeader, etag
from catalog.common.i18n import LanguageDep, respond
from catalog.programmes import service
from catalog.programmes.models import (
    Course,
    CourseCreate,
    CoursePublic,
    CourseUpdate,
    Programme,
    ProgrammeCreate,
    ProgrammePublic,
    ProgrammeUpdate,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1", tags=["programmes and courses"])

Reader = Annotated[Principal, require("catalog:read")]
Writer = Annotated[Principal, require("catalog:write")]
PageDep = Annotated[PageParams, Depends(page_params)]
Code = Annotated[str, Path(max_length=64)]
MeasureQ = Annotated[str | None, Query(description="Serves this measure, e.g. 1.1")]
IndicatorQ = Annotated[str | None, Query(description="Serves this indicator, e.g. 1.1.1")]
FormatQ = Annotated[str | None, Query(description="A learning format code, e.g. e_learning")]
MandatoryQ = Annotated[bool | None, Query(description="Only mandatory (true) or optional (false)")]
GroupQ = Annotated[str | None, Query(description="A target group (role, participant group…)")]
TagQ = Annotated[str | None, Query(description="Any tag, e.g. programme:ALVAP or mandatory")]
SearchQ = Annotated[str | None, Query(max_length=200, description="Words in code, title, text")]


def _programme(
    session: SessionDep, row: Programme, language: str | None, status: int = 200
) -> JSONResponse:
    return respond(
        service.programme_public(session, row), language, status_code=status, etag=etag(row.version)
    )


def _course(row: Course, language: str | None, status: int = 200) -> JSONResponse:
    return respond(service.course_public(row), language, status_code=status, etag=etag(row.version))


@router.get("/programmes", response_model=Page[ProgrammePublic], summary="List programmes")
def list_programmes(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    measure: MeasureQ = None,
    indicator: IndicatorQ = None,
    format: FormatQ = None,
    mandatory: MandatoryQ = None,
    target_group: GroupQ = None,
    tag: TagQ = None,
    q: SearchQ = None,
    include_archived: bool = False,
) -> JSONResponse:
    """Learning programmes by code, filtered by what they serve, format, group or tag."""
    rows, total = service.list_rows(
        session,
        Programme,
        measure=measure,
        indicator=indicator,
        format=format,
        mandatory=mandatory,
        target_group=target_group,
        programme=None,
        tag=tag,
        q=q,
        include_archived=include_archived,
        page=page,
    )
    items = [service.programme_public(session, r) for r in rows]
    return respond(
        make_page(items, page.limit, key=lambda r: {"code": r.code}, count=total), language
    )


@router.get("/programmes/{code}", response_model=ProgrammePublic, summary="Get a programme")
def get_programme(
    session: SessionDep, _principal: Reader, language: LanguageDep, code: Code
) -> JSONResponse:
    """One programme with its courses; the ETag is what a change must send in If-Match."""
    return _programme(session, service.get_row(session, Programme, code), language)


@router.post(
    "/programmes", response_model=ProgrammePublic, status_code=201, summary="Create a programme"
)
def create_programme(
    session: SessionDep, principal: Writer, language: LanguageDep, body: ProgrammeCreate
) -> JSONResponse:
    """Add a programme; every code it names must exist (422 naming the field otherwise)."""
    row = service.create(session, Programme, body, principal.client_id)
    return _programme(session, row, language, 201)


@router.patch("/programmes/{code}", response_model=ProgrammePublic, summary="Change a programme")
def update_programme(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: ProgrammeUpdate,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Change the fields given; needs If-Match (428 without, 412 when stale)."""
    row = service.update(session, Programme, code, body, if_match, principal.client_id)
    return _programme(session, row, language)


@router.post(
    "/programmes/{code}/archive", response_model=ProgrammePublic, summary="Archive a programme"
)
def archive_programme(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Archive instead of delete; needs If-Match."""
    row = service.archive(session, Programme, code, if_match, principal.client_id)
    return _programme(session, row, language)


@router.get("/courses", response_model=Page[CoursePublic], summary="List courses")
def list_courses(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    measure: MeasureQ = None,
    indicator: IndicatorQ = None,
    format: FormatQ = None,
    mandatory: MandatoryQ = None,
    target_group: GroupQ = None,
    programme: Annotated[str | None, Query(description="Courses of this programme")] = None,
    tag: TagQ = None,
    q: SearchQ = None,
    include_archived: bool = False,
) -> JSONResponse:
    """Courses by code, filtered by what they serve, format, mandatory, group, programme, tag."""
    rows, total = service.list_rows(
        session,
        Course,
        measure=measure,
        indicator=indicator,
        format=format,
        mandatory=mandatory,
        target_group=target_group,
        programme=programme,
        tag=tag,
        q=q,
        include_archived=include_archived,
        page=page,
    )
    items = [service.course_public(r) for r in rows]
    return respond(
        make_page(items, page.limit, key=lambda r: {"code": r.code}, count=total), language
    )


@router.get("/courses/{code}", response_model=CoursePublic, summary="Get a course")
def get_course(
    session: SessionDep, _principal: Reader, language: LanguageDep, code: Code
) -> JSONResponse:
    """One course; the ETag is what a change must send in If-Match."""
    return _course(service.get_row(session, Course, code), language)


@router.post("/courses", response_model=CoursePublic, status_code=201, summary="Create a course")
def create_course(
    session: SessionDep, principal: Writer, language: LanguageDep, body: CourseCreate
) -> JSONResponse:
    """Add a course; every code it names must exist (422 naming the field otherwise)."""
    return _course(service.create(session, Course, body, principal.client_id), language, 201)


@router.patch("/courses/{code}", response_model=CoursePublic, summary="Change a course")
def update_course(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: CourseUpdate,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Change the fields given; needs If-Match (428 without, 412 when stale)."""
    row = service.update(session, Course, code, body, if_match, principal.client_id)
    return _course(row, language)


@router.post("/courses/{code}/archive", response_model=CoursePublic, summary="Archive a course")
def archive_course(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Archive instead of delete; needs If-Match."""
    return _course(service.archive(session, Course, code, if_match, principal.client_id), language)
