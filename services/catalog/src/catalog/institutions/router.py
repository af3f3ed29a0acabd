"""Institutions over HTTP: the registry of ministries, institutions and municipalities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from catalog.common.concurrency import IfMatchHeader, etag
from catalog.common.i18n import LanguageDep, respond
from catalog.institutions import service
from catalog.institutions.models import (
    BulkResult,
    InstitutionBulk,
    InstitutionCreate,
    InstitutionKind,
    InstitutionPublic,
    InstitutionUpdate,
    Sector,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/institutions", tags=["institutions"])

Reader = Annotated[Principal, require("catalog:read")]
Writer = Annotated[Principal, require("catalog:write")]
Code = Annotated[str, Path(max_length=64)]


def _one(row: service.Institution, language: str | None, status_code: int = 200) -> JSONResponse:
    return respond(
        service.to_public(row), language, status_code=status_code, etag=etag(row.version)
    )


@router.get("", response_model=Page[InstitutionPublic], summary="List institutions")
def list_institutions(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: Annotated[PageParams, Depends(page_params)],
    kind: Annotated[InstitutionKind | None, Query()] = None,
    sector: Annotated[Sector | None, Query()] = None,
    parent: Annotated[
        str | None, Query(description="Code of the ministry: the institutions of its resort")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Words in code or name")] = None,
    include_archived: bool = False,
) -> JSONResponse:
    """Institutions by code, filtered by kind, sector, parent (resort) or name."""
    rows, total = service.list_institutions(
        session,
        kind=kind,
        sector=sector,
        parent=parent,
        q=q,
        include_archived=include_archived,
        page=page,
    )
    result = make_page(
        [service.to_public(r) for r in rows],
        page.limit,
        key=lambda r: {"code": r.code},
        count=total,
    )
    return respond(result, language)


@router.get("/{code}", response_model=InstitutionPublic, summary="Get an institution")
def get_institution(
    session: SessionDep, _principal: Reader, language: LanguageDep, code: Code
) -> JSONResponse:
    """One institution; the ETag is what a change must send in If-Match."""
    return _one(service.get_row(session, code), language)


@router.post("", response_model=InstitutionPublic, status_code=201, summary="Create an institution")
def create_institution(
    session: SessionDep, principal: Writer, language: LanguageDep, body: InstitutionCreate
) -> JSONResponse:
    """Add an institution to the registry (409 when the code exists)."""
    return _one(service.create(session, body, principal.client_id), language, 201)


@router.post("/bulk", response_model=BulkResult, summary="Create or update institutions in bulk")
def upsert_institutions(
    session: SessionDep, principal: Writer, body: InstitutionBulk
) -> BulkResult:
    """Load many institutions at once, by code: new ones are created, changed ones updated,
    identical ones left alone, so sending the same list twice changes nothing."""
    return service.upsert_many(session, body.institutions, principal.client_id)


@router.patch("/{code}", response_model=InstitutionPublic, summary="Change an institution")
def update_institution(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: InstitutionUpdate,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Change the fields given; needs If-Match with the ETag read (428 without, 412 if stale)."""
    return _one(service.update(session, code, body, if_match, principal.client_id), language)


@router.post("/{code}/archive", response_model=InstitutionPublic, summary="Archive an institution")
def archive_institution(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Archive instead of delete: kept for history, hidden from lists by default."""
    return _one(service.archive(session, code, if_match, principal.client_id), language)
