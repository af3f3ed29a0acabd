"""headcount: how many people HR reports in a population on the as-of date (role holders)."""

from __future__ import annotations

from indicators.engine.computation import (
    HEADCOUNT_DIMENSIONS,
    Computation,
    group_key,
    needs_years,
    year_end,
)
from indicators.engine.results import Breakdown, IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationQuery


async def compute_headcount(run: Computation) -> IndicatorResult:
    """The population's headcount on the period's end, by institution, resort and sector."""
    population = run.spec.population
    assert population is not None
    chosen = run.headcount_filter(population)
    dims = [d for d in run.dimensions() if d in HEADCOUNT_DIMENSIONS or d == "resort"]
    grouped = sorted({"institution" if d == "resort" else d for d in dims})
    answer, per_set = await run.headcount_sets(run.period_to, chosen, [[d] for d in grouped])
    by_dim = dict(zip(grouped, per_set, strict=True))
    result = run.result(value=answer.total, numerator=answer.total, unit="people")
    for dim in dims:
        if dim == "resort":
            # Headcounts add up: a resort's is the sum of its institutions'.
            sums = run.per_resort(
                {group_key(group, "institution"): group.value for group in by_dim["institution"]}
            )
            result.breakdowns.append(Breakdown(dimension="resort", rows=run.resort_rows(sums)))
        else:
            result.breakdowns.append(
                Breakdown(dimension=dim, rows=run.rows_from_groups(dim, by_dim[dim]))
            )
    if needs_years(run, run.dimensions()):
        for year in run.years():
            end = min(year_end(year), run.period_to)
            at_end = await run.headcount(end, chosen)
            result.per_year.append(SeriesPoint(year=year, value=at_end.total))
    return run.judge(result, exact(answer.total))


def counted_by(run: Computation) -> AggregationQuery | None:
    """Nobody by name: a headcount is reported by HR as a number."""
    return None
