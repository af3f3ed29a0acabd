"""Reference lists over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from catalog.common.i18n import LanguageDep, respond
from catalog.reference import service
from catalog.reference.models import ReferenceListPublic
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, page_params, slice_page

router = APIRouter(prefix="/v1/reference", tags=["reference lists"])

Reader = Annotated[Principal, require("catalog:read")]


@router.get("", response_model=Page[ReferenceListPublic], summary="List reference lists")
def list_reference_lists(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: Annotated[PageParams, Depends(page_params)],
) -> JSONResponse:
    """Position groups, management levels, participant groups, roles and learning formats."""
    return respond(slice_page(service.list_lists(session), page), language)


@router.get("/{code}", response_model=ReferenceListPublic, summary="Get a reference list")
def get_reference_list(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    code: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    """One reference list (e.g. roles) with its codes and names."""
    return respond(service.get_list(session, code), language)
