"""Mandatory learning rules over HTTP (versioned; changes need If-Match)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from catalog.common.concurrency import IfMatchHeader, etag
from catalog.common.i18n import LanguageDep, respond
from catalog.mandatory import service
from catalog.mandatory.models import (
    MandatoryLearningCreate,
    MandatoryLearningFields,
    MandatoryLearningPublic,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/mandatory-learning", tags=["mandatory learning"])

Reader = Annotated[Principal, require("catalog:read")]
Writer = Annotated[Principal, require("catalog:write")]
Code = Annotated[str, Path(max_length=64)]


def _one(row: service.MandatoryLearning, language: str | None, status: int = 200) -> JSONResponse:
    return respond(service.to_public(row), language, status_code=status, etag=etag(row.version))


@router.get(
    "", response_model=Page[MandatoryLearningPublic], summary="List mandatory learning rules"
)
def list_mandatory_learning(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: Annotated[PageParams, Depends(page_params)],
    include_archived: bool = False,
) -> JSONResponse:
    """Which courses each role, position group or new employee must complete, and by when."""
    rows, total = service.list_rows(session, include_archived=include_archived, page=page)
    items = [service.to_public(r) for r in rows]
    return respond(
        make_page(items, page.limit, key=lambda r: {"code": r.code}, count=total), language
    )


@router.get(
    "/{code}", response_model=MandatoryLearningPublic, summary="Get a mandatory learning rule"
)
def get_mandatory_learning(
    session: SessionDep, _principal: Reader, language: LanguageDep, code: Code
) -> JSONResponse:
    """One rule, with the plan's words it comes from."""
    return _one(service.get_row(session, code), language)


@router.post(
    "",
    response_model=MandatoryLearningPublic,
    status_code=201,
    summary="Create a mandatory learning rule",
)
def create_mandatory_learning(
    session: SessionDep, principal: Writer, language: LanguageDep, body: MandatoryLearningCreate
) -> JSONResponse:
    """Add a rule (409 when the code exists; 422 for unknown courses or audience codes)."""
    return _one(service.create(session, body, principal.client_id), language, 201)


@router.put(
    "/{code}", response_model=MandatoryLearningPublic, summary="Replace a mandatory learning rule"
)
def replace_mandatory_learning(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    body: MandatoryLearningFields,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Replace the whole rule; needs If-Match (428 without, 412 when stale)."""
    return _one(service.replace(session, code, body, if_match, principal.client_id), language)


@router.post(
    "/{code}/archive",
    response_model=MandatoryLearningPublic,
    summary="Archive a mandatory learning rule",
)
def archive_mandatory_learning(
    session: SessionDep,
    principal: Writer,
    language: LanguageDep,
    code: Code,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    """Archive instead of delete; needs If-Match."""
    return _one(service.archive(session, code, if_match, principal.client_id), language)
