"""Routes for results: one indicator, many at once, lists, plan progress, explain, annex 3 norms."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from indicators.access import results_scope
from indicators.engine.norms import NormsResult
from indicators.engine.results import IndicatorResult
from indicators.results import export
from indicators.results.params import (
    AsOf,
    Breakdown,
    Code,
    Format,
    Language,
    Measure,
    PeriodQuery,
    PlanCode,
    Priority,
    Series,
    params_of,
    parse_codes,
)
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
from pilnveide_kit.pagination import MAX_LIMIT, Page, PageParams, page_params, slice_page

router = APIRouter(prefix="/v1", tags=["results"])

Reader = Annotated[Principal, require("indicators:read")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The result (JSON, or CSV when asked)"}
}


def service_of(request: Request) -> IndicatorsService:
    """The app's indicators service."""
    found: IndicatorsService = request.app.state.indicators
    return found


Service = Annotated[IndicatorsService, Depends(service_of)]


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
    breakdown: Breakdown = None,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Compute with a past definition")
    ] = None,
    format: Format = None,
    lang: Language = "lv",
    series: Series = True,
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
    plan: PlanCode = None,
    measure: Measure = None,
    priority: Priority = None,
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
    plan: PlanCode = None,
    measure: Measure = None,
    priority: Priority = None,
    as_of: AsOf = None,
    period: PeriodQuery = None,
    breakdown: Breakdown = None,
    series: Series = True,
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
    plan: PlanCode = None,
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
