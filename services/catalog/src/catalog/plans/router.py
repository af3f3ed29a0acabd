"""Plans, priorities, measures and indicators over HTTP (read-only: loaded from data files)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from catalog.common.i18n import LanguageDep, respond
from catalog.common.search import sort_key
from catalog.plans import service
from catalog.plans.models import (
    NATIONAL_PLAN,
    IndicatorPublic,
    MeasureDetail,
    MeasurePublic,
    PlanDetail,
    PlanPublic,
    PlanVersionPublic,
    PriorityPublic,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params, slice_page

router = APIRouter(prefix="/v1", tags=["plan"])

Reader = Annotated[Principal, require("catalog:read")]
PageDep = Annotated[PageParams, Depends(page_params)]
PlanFilter = Annotated[
    str | None, Query(description="Only this plan's rows (e.g. LAP-2021-2027); default: all plans")
]
PlanOfCode = Annotated[str, Query(description="The plan the code belongs to", max_length=64)]
Search = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Words to find in the Latvian or English text (any case, "
        "with or without diacritics)",
    ),
]
TargetKind = Literal[
    "count",
    "min_count",
    "min_share",
    "share",
    "range",
    "frequency",
    "coverage_per_institution",
    "coverage_per_resort",
    "milestone",
    "yearly",
]


def _key(plan: str, code: str) -> dict[str, str]:
    return {"p": plan, "s": sort_key(code)}


@router.get("/plans", response_model=Page[PlanPublic], summary="List plans")
def list_plans(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    kind: Annotated[
        Literal["national_plan", "institution_strategy"] | None, Query(description="Plan kind")
    ] = None,
) -> JSONResponse:
    """The national plan and the institutions' strategies held beside it, with their sizes."""
    return respond(slice_page(service.list_plans(session, kind=kind), page), language)


@router.get("/plans/{code}", response_model=PlanDetail, summary="Get a plan")
def get_plan(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    code: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    """One plan: title, owner, period, source, loaded version and (national plan) annex 5."""
    return respond(service.get_plan(session, code), language)


@router.get(
    "/plans/{code}/versions", response_model=Page[PlanVersionPublic], summary="List plan versions"
)
def list_plan_versions(
    session: SessionDep,
    _principal: Reader,
    page: PageDep,
    code: Annotated[str, Path(max_length=64)],
) -> Page[PlanVersionPublic]:
    """Each version of the plan's reviewed data file loaded so far: hash and time."""
    return slice_page(service.plan_versions(session, code), page)


@router.get("/priorities", response_model=Page[PriorityPublic], summary="List priorities")
def list_priorities(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    plan: PlanFilter = None,
    q: Search = None,
) -> JSONResponse:
    """Strategic priorities (and strategies' goals) with funding and NAP links."""
    rows, total = service.list_priorities(session, plan=plan, q=q, page=page)
    return respond(
        make_page(rows, page.limit, key=lambda r: _key(r.plan, r.code), count=total), language
    )


@router.get("/priorities/{code}", response_model=PriorityPublic, summary="Get a priority")
def get_priority(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    code: Annotated[str, Path(max_length=32)],
    plan: PlanOfCode = NATIONAL_PLAN,
) -> JSONResponse:
    """One priority (or goal) with its funding, NAP links and measure codes."""
    return respond(service.get_priority(session, plan, code), language)


@router.get("/measures", response_model=Page[MeasurePublic], summary="List measures")
def list_measures(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    plan: PlanFilter = None,
    priority: Annotated[str | None, Query(description="Priority number, e.g. 1")] = None,
    responsible: Annotated[
        str | None, Query(description="Code of a responsible institution, e.g. VK")
    ] = None,
    institution: Annotated[
        str | None, Query(description="Code of an institution named in any role")
    ] = None,
    deadline_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    q: Search = None,
) -> JSONResponse:
    """Measures with results, institutions and deadline; filters combine with AND."""
    rows, total = service.list_measures(
        session,
        plan=plan,
        priority=priority,
        responsible=responsible,
        institution=institution,
        deadline_year=deadline_year,
        q=q,
        page=page,
    )
    return respond(
        make_page(rows, page.limit, key=lambda r: _key(r.plan, r.code), count=total), language
    )


@router.get("/measures/{code}", response_model=MeasureDetail, summary="Get a measure")
def get_measure(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    code: Annotated[str, Path(max_length=32)],
    plan: PlanOfCode = NATIONAL_PLAN,
) -> JSONResponse:
    """One measure with its results, institutions and its indicators in full."""
    return respond(service.get_measure(session, plan, code), language)


@router.get("/indicators", response_model=Page[IndicatorPublic], summary="List indicators")
def list_indicators(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    page: PageDep,
    plan: PlanFilter = None,
    priority: Annotated[str | None, Query(description="Priority number or goal code")] = None,
    measure: Annotated[str | None, Query(description="Measure code, e.g. 1.1")] = None,
    target_kind: Annotated[TargetKind | None, Query(description="Kind of target")] = None,
    q: Search = None,
) -> JSONResponse:
    """Performance indicators with structured targets (and yearly targets for strategies)."""
    rows, total = service.list_indicators(
        session,
        plan=plan,
        priority=priority,
        measure=measure,
        target_kind=target_kind,
        q=q,
        page=page,
    )
    return respond(
        make_page(rows, page.limit, key=lambda r: _key(r.plan, r.code), count=total), language
    )


@router.get("/indicators/{code}", response_model=IndicatorPublic, summary="Get an indicator")
def get_indicator(
    session: SessionDep,
    _principal: Reader,
    language: LanguageDep,
    code: Annotated[str, Path(max_length=32)],
    plan: PlanOfCode = NATIONAL_PLAN,
) -> JSONResponse:
    """One indicator with its structured target, baseline and yearly targets."""
    return respond(service.get_indicator(session, plan, code), language)
