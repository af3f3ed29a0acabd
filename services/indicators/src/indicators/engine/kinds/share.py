"""share: people who learnt over a population, paired per breakdown row, never averaged."""

from __future__ import annotations

import asyncio
from datetime import date
from fractions import Fraction
from typing import Any

from indicators.engine.computation import (
    HEADCOUNT_DIMENSIONS,
    RECORDS_DIMENSIONS,
    Computation,
    group_key,
    needs_years,
    share_of,
    year_end,
)
from indicators.engine.results import Breakdown, BreakdownRow, IndicatorResult, SeriesPoint
from pilnveide_contracts.records import AggregationFilter, AggregationQuery, Group


def numerator_filter(
    run: Computation, start: date | None, end: date, people_at: date
) -> AggregationFilter:
    """The share's numerator: the definition's filter within the denominator's population."""
    chosen = run.records_filter(start=start, end=end, people_at=people_at)
    denominator = run.spec.denominator
    if denominator is not None and denominator.source == "headcount":
        population = denominator.filter
        if chosen.roles is None and population.roles is not None:
            chosen.roles = list(population.roles)
        if chosen.position_groups is None and population.position_groups is not None:
            chosen.position_groups = list(population.position_groups)
        if chosen.sectors is None and population.sectors is not None:
            chosen.sectors = list(population.sectors)
        institutions = run.population_institutions(population.institutions)
        if institutions is not None:
            wanted = set(institutions)
            chosen.institutions = sorted(
                wanted if chosen.institutions is None else wanted & set(chosen.institutions)
            )
    return chosen


async def compute_share(run: Computation) -> IndicatorResult:
    """A share of a headcount (or hand-entered) population, in percent."""
    spec = run.spec
    denominator = spec.denominator
    assert denominator is not None
    counted_at = min(denominator.as_of or run.period_to, run.period_to)
    counted_filter = numerator_filter(run, None, run.period_to, counted_at)
    headcount_filter = run.headcount_filter(denominator.filter)
    dims = run.dimensions()
    with_years = needs_years(run, dims)
    by_headcount = denominator.source == "headcount"

    grouped = {d for d in dims if d in RECORDS_DIMENSIONS and d != "year"}
    years = run.years() if with_years else []
    # People who learnt in each year, over the headcount at that year's end: the numerator's
    # breakdowns (and the last year, counted on the count date) in one question, the
    # denominator's breakdowns in another; an earlier year's numerator is its own question with
    # people's roles and jobs as of that year's end (a role held then but not now counts).
    numerator_sets = sorted(grouped) + (["year"] if years else [])
    # Headcounts add up, so a resort's denominator is its institutions' sum; its numerator is
    # records' count of distinct people in the resort.
    denominator_sets = sorted(
        {d for d in grouped if d in HEADCOUNT_DIMENSIONS}
        | ({"institution"} if "resort" in grouped else set())
    )
    jobs: dict[str, Any] = {
        "num": run.aggregate_sets("people", counted_filter, [[d] for d in numerator_sets])
    }
    if by_headcount:
        jobs["den"] = run.headcount_sets(
            counted_at, headcount_filter, [[d] for d in denominator_sets]
        )
    for year in years:
        end = min(year_end(year), run.period_to)
        if end < counted_at:
            start = max(date(year, 1, 1), run.period_from)
            jobs[f"ynum:{year}"] = run.aggregate("people", numerator_filter(run, start, end, end))
        if run.params.series:
            jobs[f"cum:{year}"] = run.aggregate("people", numerator_filter(run, None, end, end))
        if by_headcount:
            jobs[f"yden:{year}"] = run.headcount(end, headcount_filter)
    gathered = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    answers: dict[str, Any] = {}
    groups_of: dict[str, list[Group]] = {}
    for side, names in (("num", numerator_sets), ("den", denominator_sets)):
        if side in gathered:
            answer, per_set = gathered.pop(side)
            answers[side] = answer
            groups_of.update({f"{side}:{d}": g for d, g in zip(names, per_set, strict=True)})
    answers.update(gathered)

    def denominator_total(key: str) -> float | None:
        if not by_headcount:
            # A hand-entered population is national: it cannot be split by institution.
            return None if run.params.scope is not None else denominator.value
        return answers[key].total if key in answers else None

    numerator = answers["num"].total
    total_denominator = denominator_total("den")
    value = share_of(numerator, total_denominator)
    result = run.result(
        value=value, numerator=numerator, denominator=total_denominator, unit="percent"
    )
    if not by_headcount:
        result.extra["denominator_reference"] = denominator.reference
    for dim in dims:
        if dim == "year":
            continue
        if dim == "resort":
            nums = {group_key(g, "resort"): g.value for g in groups_of["num:resort"]}
            dens = (
                run.per_resort(
                    {group_key(g, "institution"): g.value for g in groups_of["den:institution"]}
                )
                if by_headcount
                else None
            )
            result.breakdowns.append(
                Breakdown(dimension="resort", rows=run.resort_rows(nums, dens))
            )
            continue
        if f"num:{dim}" not in groups_of:
            continue
        nums = {group_key(g, dim): g.value for g in groups_of[f"num:{dim}"]}
        dens = (
            {group_key(g, dim): g.value for g in groups_of[f"den:{dim}"]}
            if f"den:{dim}" in groups_of
            else {}
        )
        rows = []
        for key in sorted(set(nums) | set(dens)):
            den = dens.get(key) if f"den:{dim}" in groups_of else None
            rows.append(
                BreakdownRow(
                    key=key,
                    name=run.name(dim, key),
                    value=share_of(nums.get(key, 0.0), den),
                    numerator=nums.get(key, 0.0),
                    denominator=den,
                )
            )
        result.breakdowns.append(Breakdown(dimension=dim, rows=rows))
    for year in years:
        year_den = denominator_total(f"yden:{year}") if by_headcount else denominator_total("")
        if f"ynum:{year}" in answers:
            year_num = float(answers[f"ynum:{year}"].total)
        else:
            year_num = next(
                (g.value for g in groups_of["num:year"] if int(g.key["year"] or 0) == year), 0.0
            )
        result.per_year.append(
            SeriesPoint(
                year=year,
                value=share_of(year_num, year_den),
                numerator=year_num,
                denominator=year_den,
            )
        )
        if f"cum:{year}" in answers:
            cum_num = answers[f"cum:{year}"].total
            result.cumulative.append(
                SeriesPoint(
                    year=year,
                    value=share_of(cum_num, year_den),
                    numerator=cum_num,
                    denominator=year_den,
                )
            )
    if "year" in dims:
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
                    for p in result.per_year
                ],
            )
        )
    judged = (
        Fraction(str(numerator)) * 100 / Fraction(str(total_denominator))
        if total_denominator
        else None
    )
    if not total_denominator:
        result.status_reason = "no denominator"
    return run.judge(result, judged)


def counted_by(run: Computation) -> AggregationQuery:
    """Whom the share's numerator counts (the explain view)."""
    return AggregationQuery(
        metric=run.metric_of("people"),
        filter=numerator_filter(run, None, run.period_to, run.period_to),
    )
