"""rate: one records metric over two filters, the first in percent of the second, per year.

5.1.5 ("Mācīšanās rezultāti un to ietekme"): people whose 6–12-month follow-up says they use
what they learned at work, of the people who gave that follow-up (learning-records'
`feedback_people`). Both sides are counted in learning-records, each year its own question.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from indicators.engine.computation import Computation, group_key, share_of, year_end
from indicators.engine.results import Breakdown, BreakdownRow, IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationFilter, AggregationQuery


def _of(run: Computation, start: date, end: date) -> AggregationFilter:
    """The denominator's filter for the dates, within the caller's institutions."""
    rate = run.spec.rate
    assert rate is not None
    chosen = run.records_filter(start=start, end=end)
    institutions = chosen.institutions
    if rate.of.institutions is not None:
        scope = run.params.scope
        wanted = set(rate.of.institutions)
        institutions = sorted(wanted if scope is None else wanted & scope)
    return rate.of.model_copy(
        update={
            "period": chosen.period,
            "institutions": institutions,
            "employment_as_of": chosen.employment_as_of,
        }
    )


async def compute_rate(run: Computation) -> IndicatorResult:
    """The rate over the period, its institutions, and each year's."""
    rate = run.spec.rate
    assert rate is not None
    metric = rate.metric
    by_institution = "institution" in run.dimensions()
    sets = [["institution"]] if by_institution else []
    jobs: dict[str, Any] = {
        "num": run.aggregate_sets(metric, run.records_filter(), sets),
        "den": run.aggregate_sets(metric, _of(run, run.period_from, run.period_to), sets),
    }
    years = run.years()
    for year in years:
        start, end = max(date(year, 1, 1), run.period_from), min(year_end(year), run.period_to)
        jobs[f"num:{year}"] = run.aggregate(metric, run.records_filter(start=start, end=end))
        jobs[f"den:{year}"] = run.aggregate(metric, _of(run, start, end))
    answers = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    (num, num_groups), (den, den_groups) = answers["num"], answers["den"]
    result = run.result(
        value=share_of(num.total, den.total),
        numerator=num.total,
        denominator=den.total,
        unit="percent",
    )
    result.per_year = [
        SeriesPoint(
            year=year,
            value=share_of(answers[f"num:{year}"].total, answers[f"den:{year}"].total),
            numerator=answers[f"num:{year}"].total,
            denominator=answers[f"den:{year}"].total,
        )
        for year in years
    ]
    if sets:
        nums = {group_key(g, "institution"): float(g.value) for g in num_groups[0]}
        dens = {group_key(g, "institution"): float(g.value) for g in den_groups[0]}
        rows = [
            BreakdownRow(
                key=code,
                name=run.name("institution", code),
                value=share_of(nums.get(code, 0.0), dens.get(code)),
                numerator=nums.get(code, 0.0),
                denominator=dens.get(code),
            )
            for code in sorted({*nums, *dens})
        ]
        result.breakdowns.append(Breakdown(dimension="institution", rows=rows))
    if not den.total:
        result.status_reason = "no denominator"
    return run.judge(result, exact(result.value))


def counted_by(run: Computation) -> AggregationQuery:
    """Whom the rate's numerator counts (the explain view)."""
    assert run.spec.rate is not None
    return AggregationQuery(metric=run.spec.rate.metric, filter=run.records_filter())
