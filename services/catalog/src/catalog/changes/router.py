"""The change log over HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from catalog.changes.models import ChangePublic
from catalog.changes.service import list_changes
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/changes", tags=["changes"])

Entity = Literal["programme", "course", "institution", "framework"]


@router.get("", response_model=Page[ChangePublic], summary="List catalog changes")
def list_catalog_changes(
    session: SessionDep,
    _principal: Annotated[Principal, require("catalog:read")],
    page: Annotated[PageParams, Depends(page_params)],
    entity: Annotated[Entity | None, Query(description="Only changes of this kind")] = None,
    code: Annotated[str | None, Query(description="Only changes of this resource code")] = None,
) -> Page[ChangePublic]:
    """Every write of programmes, courses, institutions and frameworks: what, when, by whom."""
    rows = [
        ChangePublic.model_validate(r, from_attributes=True)
        for r in list_changes(session, entity=entity, code=code, page=page)
    ]
    return make_page(rows, page.limit, key=lambda r: {"id": r.id})
