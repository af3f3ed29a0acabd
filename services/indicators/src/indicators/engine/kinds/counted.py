"""distinct_people, distinct_institutions, count_events: one question for total and breakdowns."""

from __future__ import annotations

import asyncio
from typing import Any

from indicators.engine.computation import (
    RECORDS_DIMENSIONS,
    Computation,
    needs_years,
    year_end,
)
from indicators.engine.results import Breakdown, IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationQuery, AggregationResult, Metric


async def compute_counted(run: Computation) -> IndicatorResult:
    """distinct_people, distinct_institutions and count_events."""
    spec = run.spec
    metric: Metric
    if spec.kind == "distinct_people":
        metric, unit, additive = "people", "people", False
    elif spec.kind == "distinct_institutions":
        metric, unit, additive = spec.unit, spec.unit, False
    else:
        # Sessions are distinct (one may span two years); enrolments and hours add up.
        metric, unit, additive = spec.metric, spec.metric, spec.metric != "sessions"
    dims = run.dimensions()
    with_years = needs_years(run, dims)
    # Resorts are records' groups too: a person is counted once per resort.
    queried = {d for d in dims if d in RECORDS_DIMENSIONS}
    if with_years:
        queried.add("year")
    base = run.records_filter()
    # The institutions (municipalities) represented are the institution (municipality) groups
    # of the people's own question: count(DISTINCT institution) over the same rows is the
    # number of its non-null keys, so they are not asked again. Assessed people are not
    # enrolments, so theirs are.
    represented_key = {"institutions": "institution", "municipalities": "municipality"}.get(
        spec.represented or ""
    )
    represented_by_groups = (
        spec.kind == "distinct_people"
        and represented_key is not None
        and run.metric_of("people") == "people"
    )
    if represented_by_groups and represented_key is not None:
        queried.add(represented_key)
    grouped = sorted(queried)
    # One question for the total and every breakdown (group_by_sets).
    jobs: dict[str, Any] = {"total": run.aggregate_sets(metric, base, [[d] for d in grouped])}
    if spec.kind == "distinct_people" and spec.represented and not represented_by_groups:
        jobs["represented"] = run.aggregate(spec.represented, base)
    cumulative_years = run.years() if run.params.series and not additive else []
    for year in cumulative_years:
        jobs[f"cum{year}"] = run.aggregate(
            metric, run.records_filter(end=min(year_end(year), run.period_to))
        )
    answers = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    total: AggregationResult = answers["total"][0]
    by_dim = dict(zip(grouped, answers["total"][1], strict=True))
    extra: dict[str, Any] = {}
    if "represented" in answers:
        extra[f"{spec.represented}_represented"] = answers["represented"].total
    elif represented_by_groups and represented_key is not None:
        keys = {g.key.get(represented_key) for g in by_dim[represented_key]}
        extra[f"{spec.represented}_represented"] = len(keys - {None})
    result = run.result(value=total.total, numerator=total.total, unit=unit, extra=extra)
    for dim in dims:
        if dim in by_dim:
            result.breakdowns.append(
                Breakdown(dimension=dim, rows=run.rows_from_groups(dim, by_dim[dim]))
            )
    if "year" in by_dim:
        per_year = {int(g.key["year"]): g.value for g in by_dim["year"]}
        result.per_year = [SeriesPoint(year=y, value=per_year.get(y, 0.0)) for y in run.years()]
        if additive:
            running = 0.0
            for point in result.per_year:
                running += point.value or 0.0
                result.cumulative.append(SeriesPoint(year=point.year, value=running))
    for year in cumulative_years:
        result.cumulative.append(SeriesPoint(year=year, value=answers[f"cum{year}"].total))
    return run.judge(result, exact(total.total))


def counted_by(run: Computation) -> AggregationQuery:
    """Whom the indicator counts (the explain view)."""
    metric: Metric = run.spec.unit if run.spec.kind == "distinct_institutions" else "people"
    return AggregationQuery(metric=run.metric_of(metric), filter=run.records_filter())
