"""The change log over HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from catalog.changes.models import ChangePublic
from catalog.changes.service import catalog_version, list_changes
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/changes", tags=["changes"])

Entity = Literal[
    "programme", "course", "institution", "framework", "reference_list", "mandatory_learning"
]


class CatalogVersion(BaseModel):
    """The catalog's version: the id of its latest change (moves on every write)."""

    version: int


@router.get("", response_model=Page[ChangePublic], summary="List catalog changes")
def list_catalog_changes(
    session: SessionDep,
    _principal: Annotated[Principal, require("catalog:read")],
    page: Annotated[PageParams, Depends(page_params)],
    entity: Annotated[Entity | None, Query(description="Only changes of this kind")] = None,
    code: Annotated[str | None, Query(description="Only changes of this resource code")] = None,
) -> Page[ChangePublic]:
    """Every write of programmes, courses, institutions, frameworks and reference lists.

    A copy of the catalog (learning-records keeps one) follows this feed: pass the
    `next_cursor` of the last page seen, or a cursor for `{"id": <last change id>}`.
    """
    found, total = list_changes(session, entity=entity, code=code, page=page)
    rows = [ChangePublic.model_validate(r, from_attributes=True) for r in found]
    return make_page(rows, page.limit, key=lambda r: {"id": r.id}, count=total)


@router.get("/head", response_model=CatalogVersion, summary="The catalog's version")
def catalog_head(
    session: SessionDep,
    response: Response,
    _principal: Annotated[Principal, require("catalog:read")],
) -> CatalogVersion:
    """The id of the latest change (also as the ETag), so a copy can tell cheaply it is stale."""
    version = catalog_version(session)
    response.headers["ETag"] = f'"{version}"'
    return CatalogVersion(version=version)
