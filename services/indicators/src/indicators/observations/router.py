"""Routes for hand-reported observations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from indicators.access import GlobalWriter
from indicators.observations import service
from indicators.observations.models import ObservationCreate, ObservationPublic
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/v1/indicators", tags=["observations"])

Code = Annotated[str, Path(max_length=40, description="Indicator code, e.g. 1.7.2")]


@router.post(
    "/{code}/observations",
    response_model=ObservationPublic,
    status_code=201,
    summary="Enter an observation of a hand-reported indicator",
    responses={200: {"model": ObservationPublic, "description": "The same observation existed"}},
)
def create_observation(
    session: SessionDep,
    principal: GlobalWriter,
    code: Code,
    payload: ObservationCreate,
    response: Response,
) -> ObservationPublic:
    """Record a milestone, survey result or assessment; sending the same one again is safe."""
    row, created = service.record(session, code, payload, principal.client_id)
    if not created:
        response.status_code = 200
    return ObservationPublic.model_validate(row, from_attributes=True)


@router.get(
    "/{code}/observations",
    response_model=Page[ObservationPublic],
    summary="List an indicator's observations",
)
def list_observations(
    session: SessionDep,
    _principal: Annotated[Principal, require("indicators:read")],
    code: Code,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[ObservationPublic]:
    """The hand-entered observations of an indicator, in the order they were entered."""
    rows = service.listed(session, code, after_id=page.after_int("id"), limit=page.limit + 1)
    items = [ObservationPublic.model_validate(r, from_attributes=True) for r in rows]
    return make_page(
        items, page.limit, key=lambda o: {"id": o.id}, count=service.count(session, code)
    )
