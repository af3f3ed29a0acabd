"""people_with_frequency: people with n to m matching enrolments in the reference year."""

from __future__ import annotations

from indicators.engine.computation import RECORDS_DIMENSIONS, Computation
from indicators.engine.results import Breakdown, BreakdownRow, IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationQuery


async def compute_frequency(run: Computation) -> IndicatorResult:
    """People whose matching enrolments in a calendar year lie within the bounds."""
    spec = run.spec
    reference_year = run.period_to.year
    dims = run.dimensions()
    base = run.records_filter()
    grouped = sorted({d for d in dims if d in RECORDS_DIMENSIONS and d != "year"})
    _answer, per_set = await run.aggregate_sets(
        "people_with_frequency",
        base,
        [["year"], *[[d, "year"] for d in grouped]],
        frequency=spec.frequency,
    )
    answers = dict(zip(["year", *grouped], per_set, strict=True))
    per_year = {int(g.key["year"] or 0): g.value for g in answers["year"]}
    value = per_year.get(reference_year, 0.0)
    result = run.result(
        value=value, numerator=value, unit="people", extra={"reference_year": reference_year}
    )
    result.per_year = [SeriesPoint(year=y, value=per_year.get(y, 0.0)) for y in run.years()]
    for dim in dims:
        if dim == "year":
            result.breakdowns.append(
                Breakdown(
                    dimension="year",
                    rows=[
                        BreakdownRow(key=str(p.year), name=str(p.year), value=p.value)
                        for p in result.per_year
                    ],
                )
            )
            continue
        if dim not in answers:
            continue
        groups = [g for g in answers[dim] if int(g.key.get("year") or 0) == reference_year]
        result.breakdowns.append(Breakdown(dimension=dim, rows=run.rows_from_groups(dim, groups)))
    return run.judge(result, exact(value))


def counted_by(run: Computation) -> AggregationQuery:
    """Whom the indicator counts (the explain view: people with any matching enrolment)."""
    return AggregationQuery(metric="people", filter=run.records_filter())
