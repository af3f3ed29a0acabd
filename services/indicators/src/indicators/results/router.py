"""Routes for results: one indicator, many at once, lists, plan progress, explain, annex 3 norms."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from indicators.access import results_scope
from indicators.definitions.spec import DEFAULT_BREAKDOWNS
from indicators.engine.compute import Params
from indicators.engine.norms import NormsResult
from indicators.engine.results import IndicatorResult
from indicators.results import export
from indicators.results.schemas import (
    ExplainPage,
    ExplainView,
    IndicatorSummary,
    PlanProgress,
    ProgressCounts,
)
from indicators.results.service import Computed, IndicatorsService
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_INT32
from pilnveide_kit.csv_export import add_csv_exports, csv_requested
from pilnveide_kit.errors import BadRequest
from pilnveide_kit.languages import preferred_language
from pilnveide_kit.pagination import MAX_LIMIT, Page, PageParams, page_params, slice_page

router = APIRouter(prefix="/v1", tags=["results"])
T = TypeVar("T")

Reader = Annotated[Principal, require("indicators:read")]
Code = Annotated[str, Path(max_length=40, description="Indicator code, e.g. 1.5.1")]
AsOf = Annotated[date | None, Query(description="Judge and count up to this date (default: today)")]
PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="A year (2024), years (2022..2024) or dates (2024-01-01..2024-06-30)",
    ),
]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv: a CSV download")]
ALL_DIMENSIONS = {*DEFAULT_BREAKDOWNS, "management_level"}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The result (JSON, or CSV when asked)"}
}


def language(
    accept_language: Annotated[
        str | None,
        Header(description="lv (default) or en: the language of titles and breakdown names"),
    ] = None,
) -> str:
    """lv or en, whichever Accept-Language prefers (lv when it names neither)."""
    return preferred_language(accept_language, ("lv", "en")) or "lv"


Language = Annotated[str, Depends(language)]


class UnknownBreakdown(BadRequest):
    """A breakdown dimension that does not exist."""

    slug, title = "unknown-breakdown", "Unknown Breakdown"


class BadPeriod(BadRequest):
    """A period that cannot be read."""

    slug, title = "bad-period", "Bad Period"


def service_of(request: Request) -> IndicatorsService:
    """The app's indicators service."""
    found: IndicatorsService = request.app.state.indicators
    return found


Service = Annotated[IndicatorsService, Depends(service_of)]


def parse_period(period: str | None) -> tuple[date | None, date | None]:
    """(from, to) of a period parameter."""
    if not period:
        return None, None
    start, _, end = period.partition("..")
    end = end or start
    try:
        if re.fullmatch(r"\d{4}", start) and re.fullmatch(r"\d{4}", end):
            first, last = date(int(start), 1, 1), date(int(end), 12, 31)
        else:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise BadPeriod(
            f"Cannot read the period {period!r}: expected YYYY, YYYY..YYYY, YYYY-MM-DD or "
            "YYYY-MM-DD..YYYY-MM-DD, e.g. 2025 or 2025-01-01..2025-06-30"
        ) from exc
    if first > last:
        raise BadPeriod("The period ends before it starts")
    return first, last


def parse_breakdowns(values: list[str] | None) -> tuple[str, ...] | None:
    """Breakdown dimensions from repeated or comma-separated parameters."""
    if values is None:
        return None
    chosen = tuple(d.strip() for v in values for d in v.split(",") if d.strip())
    unknown = [d for d in chosen if d not in ALL_DIMENSIONS]
    if unknown:
        raise UnknownBreakdown(
            f"Unknown breakdown {', '.join(unknown)}", allowed=sorted(ALL_DIMENSIONS)
        )
    return chosen


def params_of(
    principal: Principal,
    as_of: date | None,
    period: str | None,
    breakdown: list[str] | None = None,
    *,
    detail: bool,
    series: bool = False,
    lang: str = "lv",
) -> Params:
    """Engine parameters from query parameters and the caller's institution restriction."""
    start, end = parse_period(period)
    return Params(
        as_of=as_of or date.today(),
        period_from=start,
        period_to=end,
        breakdowns=parse_breakdowns(breakdown),
        detail=detail,
        scope=results_scope(principal),
        series=series,
        lang=lang,
    )


def _freshness(response: Response, computed: Computed) -> None:
    # hit: served from the stored results; miss: computed for this request (never asked before)
    response.headers["X-Cache"] = "hit" if computed.cache_hit else "miss"
    if computed.head is not None:  # the records feed position the result reflects
        response.headers["X-Records-Head"] = str(computed.head)
    if computed.computed_at is not None:
        response.headers["X-Computed-At"] = computed.computed_at.isoformat()


@router.get(
    "/indicators/{code}",
    response_model=IndicatorResult,
    summary="Get an indicator's result",
    responses=CSV_RESPONSE,
)
async def get_indicator_result(
    request: Request,
    response: Response,
    principal: Reader,
    service: Service,
    code: Code,
    as_of: AsOf = None,
    period: PeriodQuery = None,
    breakdown: Annotated[
        list[str] | None,
        Query(description="Dimensions: institution, resort, sector, position_group, year…"),
    ] = None,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Compute with a past definition")
    ] = None,
    format: Format = None,
    lang: Language = "lv",
    series: Annotated[
        bool,
        Query(
            description="Also the cumulative series (from the period's start to each year's "
            "end); false skips it (distinct counts need one records question per year)"
        ),
    ] = True,
) -> Any:
    """Value, numerator, denominator, target, status, cut-off, breakdowns and time series."""
    params = params_of(principal, as_of, period, breakdown, detail=True, series=series, lang=lang)
    computed = await service.result(code, params, version)
    if csv_requested(request, format):
        csv = export.csv_response(export.result_rows(computed.result), f"indicator-{code}.csv")
        _freshness(csv, computed)
        return csv
    if computed.stored_json is not None:  # stored: sent as stored, not parsed and serialised again
        stored = Response(content=computed.stored_json, media_type="application/json")
        _freshness(stored, computed)
        return stored
    _freshness(response, computed)
    return computed.result


@router.get(
    "/indicators/{code}/explain",
    response_model=ExplainPage,
    summary="Explain whom an indicator counted (admin)",
)
async def explain_indicator(
    principal: Annotated[Principal, require("admin")],
    service: Service,
    code: Code,
    page: Annotated[PageParams, Depends(page_params)],
    as_of: AsOf = None,
    period: PeriodQuery = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> ExplainPage:
    """The pseudonymous people or institutions counted (only the caller's institutions)."""
    view: ExplainView = await service.explain(
        code, params_of(principal, as_of, period, detail=False), version
    )
    chunk = slice_page(view.members, page)
    return ExplainPage(
        code=view.code,
        definition_version=view.definition_version,
        cutoff_seq=view.cutoff_seq,
        metric=view.metric,
        filter=view.filter,
        count=len(view.members),
        data=chunk.data,
        next_cursor=chunk.next_cursor,
    )


@router.get(
    "/indicators",
    response_model=Page[IndicatorSummary],
    summary="List indicators with their status",
    responses=CSV_RESPONSE,
)
async def list_indicator_results(
    request: Request,
    principal: Reader,
    service: Service,
    page: Annotated[PageParams, Depends(page_params)],
    plan: Annotated[str | None, Query(max_length=64, description="Plan code")] = None,
    measure: Annotated[str | None, Query(max_length=32, description="Measure, e.g. 1.5")] = None,
    priority: Annotated[str | None, Query(max_length=32, description="Priority, e.g. 1")] = None,
    as_of: AsOf = None,
    period: PeriodQuery = None,
    format: Format = None,
    lang: Language = "lv",
) -> Any:
    """The indicators of a plan (of a measure or priority) with value, target and status."""
    params = params_of(principal, as_of, period, detail=False, lang=lang)
    items = await service.summaries(
        plan or service.settings.plan, params, measure=measure, priority=priority
    )
    if csv_requested(request, format):
        columns = list(IndicatorSummary.model_fields)
        return export.csv_response(export.table_rows(items, columns), "indicators.csv")
    return slice_page(items, page)


class ChoiceConflict(BadRequest):
    """Indicators picked both by code and from a plan."""

    slug, title = "conflicting-choice", "Conflicting Choice"


def parse_codes(
    values: list[str] | None, plan: str | None, measure: str | None, priority: str | None
) -> list[str] | None:
    """Indicator codes from repeated or comma-separated parameters (in the order given, once
    each); None when none are given."""
    if values is None:
        return None
    if plan is not None or measure is not None or priority is not None:
        raise ChoiceConflict(
            "Pick the indicators either by code or by plan, measure and priority, not both"
        )
    codes = list(dict.fromkeys(c.strip() for v in values for c in v.split(",") if c.strip()))
    if not codes:
        raise BadRequest("code names no indicator")
    if len(codes) > MAX_LIMIT or any(len(c) > 40 for c in codes):
        raise BadRequest(f"At most {MAX_LIMIT} codes of at most 40 characters each")
    return codes


@router.get(
    "/results",
    response_model=Page[IndicatorResult],
    summary="Get many indicators' results at once",
    responses=CSV_RESPONSE,
)
async def list_results(
    request: Request,
    principal: Reader,
    service: Service,
    page: Annotated[PageParams, Depends(page_params)],
    code: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_LIMIT,
            description="Indicator codes (repeat or comma list), of any plan; an unknown one or "
            "one without a current definition is a 404 naming it. Instead of plan, measure and "
            "priority",
        ),
    ] = None,
    plan: Annotated[str | None, Query(max_length=64, description="Plan code")] = None,
    measure: Annotated[str | None, Query(max_length=32, description="Measure, e.g. 1.5")] = None,
    priority: Annotated[str | None, Query(max_length=32, description="Priority, e.g. 1")] = None,
    as_of: AsOf = None,
    period: PeriodQuery = None,
    breakdown: Annotated[
        list[str] | None,
        Query(description="Dimensions: institution, resort, sector, position_group, year…"),
    ] = None,
    series: Annotated[
        bool, Query(description="Also the cumulative series (as the single read)")
    ] = True,
    format: Format = None,
    lang: Language = "lv",
) -> Any:
    """Whole results, as `GET /v1/indicators/{code}` answers each one (breakdowns, series; the
    same parameters and institution scope), for the indicators of a plan (of a measure or
    priority) that have a definition, or for the codes given, in code order; paginated (limit up
    to 1000: the whole plan in one request). The stored results are read in one query and sent
    as stored; parameters never asked before are computed on this request, once. Each result
    says its own `computed_at` and `cutoff_seq`. CSV: every chosen result's rows, all pages."""
    codes = parse_codes(code, plan, measure, priority)
    params = params_of(principal, as_of, period, breakdown, detail=True, series=series, lang=lang)
    chosen = await service.chosen(
        plan or service.settings.plan, codes, measure=measure, priority=priority
    )
    if csv_requested(request, format):
        served = await service.results(chosen, params)
        rows = export.results_rows(c.result for c in served)
        return export.csv_response(rows, "results.csv")
    chunk = slice_page(list(chosen), page)
    served = await service.results({c: chosen[c] for c in chunk.data}, params)
    body = export.page_json([c.json for c in served], chunk.count, chunk.next_cursor)
    return Response(content=body, media_type="application/json")


@router.get(
    "/plan/progress",
    response_model=PlanProgress,
    summary="Plan progress per priority and measure",
    responses=CSV_RESPONSE,
)
async def get_plan_progress(
    request: Request,
    principal: Reader,
    service: Service,
    plan: Annotated[str | None, Query(max_length=64, description="Plan code")] = None,
    as_of: AsOf = None,
    format: Format = None,
) -> Any:
    """How many indicators are achieved, on track, at risk, not achieved or without data."""
    progress = await service.progress(
        plan or service.settings.plan, params_of(principal, as_of, None, detail=False)
    )
    if csv_requested(request, format):
        columns = list(ProgressCounts.model_fields)
        rows = [["level", *columns]]
        rows += [["plan", *[getattr(progress.total, c) for c in columns]]]
        rows += [["priority", *[getattr(p, c) for c in columns]] for p in progress.priorities]
        rows += [["measure", *[getattr(m, c) for c in columns]] for m in progress.measures]
        return export.csv_response(rows, "plan-progress.csv")
    return progress


@router.get(
    "/norms",
    response_model=NormsResult,
    summary="Annex 3 norms per institution",
    responses=CSV_RESPONSE,
)
async def get_annex3_norms(
    request: Request,
    principal: Reader,
    service: Service,
    year: Annotated[int, Query(ge=2000, le=2100, description="Calendar year")],
    as_of: AsOf = None,
    format: Format = None,
) -> Any:
    """Learning hours per employee a month (norm ≥ 2 h), learning share, concentration, no-shows."""
    norms = await service.norms(year, as_of or date.today(), results_scope(principal))
    if csv_requested(request, format):
        return export.csv_response(export.norms_rows(norms), f"norms-{year}.csv")
    return norms


# `….csv` twins: the same results as CSV, an operation of their own for generated clients.
add_csv_exports(
    router,
    "/v1/indicators/{code}",
    "/v1/indicators",
    "/v1/results",
    "/v1/plan/progress",
    "/v1/norms",
)
