"""Routes for indicator definitions: versioned, guarded by ETag / If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from indicators.access import GlobalWriter
from indicators.definitions import service
from indicators.definitions.models import DefinitionCreate, DefinitionPublic, DefinitionUpdate
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_INT32
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params, slice_page

router = APIRouter(prefix="/v1/definitions", tags=["definitions"])

Code = Annotated[str, Path(max_length=40, description="Indicator code, e.g. 1.5.1")]
Reader = Annotated[Principal, require("indicators:read")]
Writer = GlobalWriter
IfMatch = Annotated[str | None, Header(description="ETag of the version being replaced (required)")]


@router.get("", response_model=Page[DefinitionPublic], summary="List current definitions")
def list_definitions(
    session: SessionDep,
    _principal: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    plan: Annotated[str | None, Query(max_length=64, description="Plan code")] = None,
) -> Page[DefinitionPublic]:
    """The current version of every indicator's definition, in indicator order."""
    rows = sorted(
        service.current_all(session, plan).values(), key=lambda r: service.natural_key(r.code)
    )
    total = len(rows)
    if (after_code := page.after_str("code")) is not None:
        after = service.natural_key(after_code)
        rows = [r for r in rows if service.natural_key(r.code) > after]
    items = [DefinitionPublic.of(r) for r in rows[: page.limit + 1]]
    return make_page(items, page.limit, key=lambda d: {"code": d.code}, count=total)


@router.post("", response_model=DefinitionPublic, status_code=201, summary="Create a definition")
def create_definition(
    session: SessionDep, principal: Writer, payload: DefinitionCreate, response: Response
) -> DefinitionPublic:
    """Define how a new indicator is computed (version 1)."""
    row = service.create(session, payload, principal.client_id)
    response.headers["ETag"] = service.etag(row)
    response.headers["Location"] = f"/v1/definitions/{row.code}"
    return DefinitionPublic.of(row)


@router.get("/{code}", response_model=DefinitionPublic, summary="Get a definition")
def get_definition(
    session: SessionDep,
    _principal: Reader,
    code: Code,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT32, description="A past version")] = None,
) -> DefinitionPublic:
    """The current definition of an indicator, or any past version of it."""
    row = service.get(session, code, version)
    response.headers["ETag"] = service.etag(row)
    return DefinitionPublic.of(row)


@router.get(
    "/{code}/versions", response_model=Page[DefinitionPublic], summary="List definition versions"
)
def list_definition_versions(
    session: SessionDep,
    _principal: Reader,
    code: Code,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[DefinitionPublic]:
    """Every version of an indicator's definition, oldest first."""
    return slice_page([DefinitionPublic.of(r) for r in service.versions(session, code)], page)


@router.put("/{code}", response_model=DefinitionPublic, summary="Replace a definition")
def replace_definition(
    session: SessionDep,
    principal: Writer,
    code: Code,
    payload: DefinitionUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> DefinitionPublic:
    """Store a new version (If-Match: the current ETag); earlier versions stay computable."""
    row = service.replace(
        session,
        code,
        payload.spec,
        author=principal.client_id,
        if_match=if_match,
        note=payload.note,
    )
    response.headers["ETag"] = service.etag(row)
    return DefinitionPublic.of(row)


@router.delete("/{code}", response_model=DefinitionPublic, summary="Retire a definition")
def retire_definition(
    session: SessionDep, principal: Writer, code: Code, if_match: IfMatch = None
) -> DefinitionPublic:
    """Stop computing an indicator (If-Match required); its versions stay readable by number."""
    return DefinitionPublic.of(
        service.retire(session, code, author=principal.client_id, if_match=if_match)
    )
