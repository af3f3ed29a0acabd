"""turnover: people who left an institution in a year over its average headcount (or hires).

Each year of the period is its own question: leavers dated in the year (learning-records'
`leavers` metric: an employment that ended with no employment in the same institution the
next day; the filter's `leaving_reasons` keep the avoidable ones, `first_year` those who left
within 12 months of starting) over the mean of HR's headcounts on 1 January and on 31 December
(`over: average_headcount`), or over the people hired in the year (`over: hires`: first-year
turnover "no jaunpieņemto darbinieku kopskaita"). `complement` gives retention (100 − share).
The value is the period's last year; yearly targets judge each year.
"""

from __future__ import annotations

import asyncio
from datetime import date
from fractions import Fraction
from typing import Any

from indicators.engine.computation import Computation, group_key, share_of, year_end
from indicators.engine.results import Breakdown, BreakdownRow, IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationFilter, AggregationQuery, Group, HeadcountFilter


def _population(run: Computation) -> HeadcountFilter:
    """The headcount the leavers are compared with: the denominator's, or the filter's."""
    if run.spec.denominator is not None and run.spec.denominator.source == "headcount":
        return run.headcount_filter(run.spec.denominator.filter)
    chosen = run.spec.filter
    return run.headcount_filter(
        HeadcountFilter(
            institutions=chosen.institutions,
            sectors=chosen.sectors,
            position_groups=chosen.position_groups,
        )
    )


def _hires_filter(leaving: AggregationFilter) -> AggregationFilter:
    return leaving.model_copy(update={"leaving_reasons": None, "first_year": None})


def _by_institution(groups: list[Group]) -> dict[str, float]:
    return {group_key(g, "institution"): float(g.value) for g in groups}


def _rate(numerator: float, denominator: float | None, complement: bool) -> float | None:
    value = share_of(numerator, denominator)
    if value is None or not complement:
        return value
    return 100.0 - value


async def compute_turnover(run: Computation) -> IndicatorResult:
    """Leavers over the population, per year; the last year is the value."""
    rule = run.spec.turnover
    assert rule is not None
    population = _population(run)
    by_institution = "institution" in run.dimensions()
    sets = [["institution"]] if by_institution else []
    jobs: dict[str, Any] = {}
    years = run.years()
    for year in years:
        start, end = max(date(year, 1, 1), run.period_from), min(year_end(year), run.period_to)
        leaving = run.records_filter(start=start, end=end)
        jobs[f"out:{year}"] = run.aggregate_sets("leavers", leaving, sets)
        if rule.over == "hires":
            jobs[f"in:{year}"] = run.aggregate_sets("hires", _hires_filter(leaving), sets)
        else:
            jobs[f"h0:{year}"] = run.headcount_sets(date(year, 1, 1), population, sets)
            jobs[f"h1:{year}"] = run.headcount_sets(end, population, sets)
    answers = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))

    def population_of(year: int) -> tuple[float, dict[str, float]]:
        if rule.over == "hires":
            answer, groups = answers[f"in:{year}"]
            return float(answer.total), _by_institution(groups[0]) if sets else {}
        (first, first_groups), (last, last_groups) = answers[f"h0:{year}"], answers[f"h1:{year}"]
        per: dict[str, float] = {}
        if sets:
            starts, ends = _by_institution(first_groups[0]), _by_institution(last_groups[0])
            per = {k: (starts.get(k, 0.0) + ends.get(k, 0.0)) / 2 for k in {*starts, *ends}}
        return (float(first.total) + float(last.total)) / 2, per

    points: list[SeriesPoint] = []
    for year in years:
        left = float(answers[f"out:{year}"][0].total)
        population_total, _ = population_of(year)
        points.append(
            SeriesPoint(
                year=year,
                value=_rate(left, population_total, rule.complement),
                numerator=left,
                denominator=population_total or None,
            )
        )
    last = points[-1]
    result = run.result(
        value=last.value, numerator=last.numerator, denominator=last.denominator, unit="percent"
    )
    result.per_year = list(points)
    if sets:
        left_groups = _by_institution(answers[f"out:{years[-1]}"][1][0])
        _, per_population = population_of(years[-1])
        rows = [
            BreakdownRow(
                key=code,
                name=run.name("institution", code),
                value=_rate(left_groups.get(code, 0.0), per_population.get(code), rule.complement),
                numerator=left_groups.get(code, 0.0),
                denominator=per_population.get(code),
            )
            for code in sorted({*left_groups, *per_population})
        ]
        result.breakdowns.append(Breakdown(dimension="institution", rows=rows))
    if "year" in run.dimensions():
        result.breakdowns.append(
            Breakdown(
                dimension="year",
                rows=[
                    BreakdownRow(
                        key=str(p.year),
                        name=str(p.year),
                        value=p.value,
                        numerator=p.numerator,
                        denominator=p.denominator,
                    )
                    for p in points
                ],
            )
        )
    if not last.denominator:
        result.status_reason = "no denominator"
    judged: Fraction | None = exact(last.value)
    return run.judge(result, judged)


def counted_by(run: Computation) -> AggregationQuery:
    """Who left in the period (the explain view)."""
    return AggregationQuery(metric="leavers", filter=run.records_filter())
