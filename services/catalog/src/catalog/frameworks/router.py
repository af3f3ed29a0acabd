"""Competency frameworks over HTTP, as JSON and as IMS CASE 1.0."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from catalog.common.concurrency import IfMatchHeader, etag
from catalog.common.i18n import LanguageDep, respond
from catalog.frameworks import service
from catalog.frameworks.case import export_case, import_case
from catalog.frameworks.models import (
    FrameworkCreate,
    FrameworkFields,
    FrameworkPublic,
    FrameworkSummary,
    RequirementsReplace,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/frameworks", tags=["competency frameworks"])

Reader = Annotated[Principal, require("catalog:read")]
Writer = Annotated[Principal, require("catalog:write")]
Code = Annotated[str, Path(max_length=64)]


def _one(row: service.Framework, language: str | None, status: int = 200) -> JSONResponse:
    return respond(service.to_public(row), language, status_code=status, etag=etag(row.version))


@router.get("", response_model=Page[FrameworkSummary], summary="List competency frameworks")
def list_frameworks(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=200)] = None,
    include_archived: bool = False,
) -> JSONResponse:
    """Competency frameworks with the size of their tree and scale."""
    rows, total = service.list_rows(session, q=q, include_archived=include_archived, page=page)
    items = [service.to_summary(r) for r in rows]
    return respond(
        make_page(items, page.limit, key=lambda r: {"code": r.code}, count=total), language
    )


@router.get("/{code}", response_model=FrameworkPublic, summary="Get a competency framework")
def get_framework(
    session: SessionDep, _principal: Reader, language: LanguageDep, code: Code
) -> JSONResponse:
    """A framework: competencies as a tree, proficiency levels, required level per group."""
    return _one(service.get_row(session, code), language)


@router.get("/{code}/case", response_model=dict[str, Any], summary="Export as IMS CASE 1.0")
def export_framework_case(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    code: Code,
    lang: Annotated[Literal["lv", "en"], Query(description="Language of the texts")] = "en",
) -> JSONResponse:
    """The framework as an IMS CASE 1.0 package (CFDocument, CFItems, CFAssociations, CFRubrics)."""
    row = service.get_row(session, code)
    base = request.app.state.settings.case_base_uri.rstrip("/")
    package = export_case(
        service.to_document(row), base_uri=base, language=lang, changed_at=row.updated_at
    )
    return JSONResponse(package, headers={"ETag": etag(row.version), "Content-Language": lang})


@router.post(
    "", response_model=FrameworkPublic, status_code=201, summary="Create a competency framework"
)
def create_framework(
    session: SessionDep, principal: Writer, language: LanguageDep, body: FrameworkCreate
) -> JSONResponse:
    """Add a framework from its JSON form (409 when the code exists)."""
    return _one(service.create(session, body, principal.client_id), language, 201)


@router.post(
    "/import/case",
    response_model=FrameworkPublic,
    status_code=201,
    summary="Import a framework from IMS CASE 1.0",
)
def import_framework_case(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    package: Annotated[dict[str, Any], Body(description="A CASE 1.0 package (CFPackage)")],
    code: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
            description="Code of the new framework",
        ),
    ],
) -> JSONResponse:
    """Create a framework from a CASE package: items become competencies, isChildOf the tree,
    rubric criterion levels the proficiency levels."""
    body = import_case(package, code=code)
    return _one(service.create(session, body, principal.client_id), language, 201)


@router.put("/{code}", response_model=FrameworkPublic, summary="Replace a competency framework")
def replace_framework(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: FrameworkFields,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Replace the whole content; needs If-Match (428 without, 412 when stale)."""
    return _one(service.replace(session, code, body, if_match, principal.client_id), language)


@router.put(
    "/{code}/requirements",
    response_model=FrameworkPublic,
    summary="Replace the required levels per position group",
)
def replace_framework_requirements(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: RequirementsReplace,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Replace the framework's requirements (position group, competency or null for every
    competency, level) as a new version; needs If-Match (428 without, 412 when stale). The
    change reaches learning-records' catalog copy like every catalog change."""
    return _one(
        service.replace_requirements(session, code, body, if_match, principal.client_id), language
    )


@router.post(
    "/{code}/archive", response_model=FrameworkPublic, summary="Archive a competency framework"
)
def archive_framework(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Archive instead of delete; needs If-Match."""
    return _one(service.archive(session, code, if_match, principal.client_id), language)
