"""coverage_per_institution / coverage_per_resort: units of a set with enough people."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Literal

from indicators.engine.computation import NO_RESORT, Computation, group_key, in_set, resort_of
from indicators.engine.results import Breakdown, BreakdownRow, IndicatorResult, Shortfall
from pilnveide_contracts.records import AggregationQuery


async def compute_coverage(run: Computation) -> IndicatorResult:
    """At least n people in every institution (or resort) of a set."""
    spec = run.spec
    rule = spec.coverage
    assert rule is not None
    per_resort = spec.kind == "coverage_per_resort"
    unit_name: Literal["institution", "resort"]
    chosen = [
        i
        for i in run.dataset.institutions.values()
        if in_set(i, rule.institution_set)
        and (run.params.scope is None or i.code in run.params.scope)
    ]
    chosen_codes = sorted(i.code for i in chosen)
    people_filter = run.records_filter(people_at=run.period_to)
    if people_filter.institutions is None:
        people_filter.institutions = chosen_codes
    else:
        people_filter.institutions = sorted(set(people_filter.institutions) & set(chosen_codes))
    # Per resort, records counts distinct people of the resort (one who moved inside it is one).
    unit_name = "resort" if per_resort else "institution"
    total, (groups,) = await run.aggregate_sets("people", people_filter, [[unit_name]])
    counts: dict[str, float] = defaultdict(float)
    for group in groups:
        counts[group_key(group, unit_name)] += group.value
    if per_resort:
        units = {resort: counts.get(resort, 0.0) for resort in {resort_of(i) for i in chosen}}
        units.pop(NO_RESORT, None)
    else:
        units = {code: counts.get(code, 0.0) for code in chosen_codes}
    covered = [code for code, n in units.items() if n >= rule.per_unit_min]
    size = len(units)
    result = run.result(
        value=float(len(covered)) if size else None,
        numerator=float(len(covered)),
        denominator=float(size) if size else None,
        unit=f"{unit_name}s covered",
        extra={
            "people_total": total.total,
            "per_unit_min": rule.per_unit_min,
            "total_min": rule.total_min,
        },
    )
    result.shortfall = [
        Shortfall(
            unit=unit_name,
            code=code,
            name=run.name(unit_name, code),
            value=n,
            required=rule.per_unit_min,
        )
        for code, n in sorted(units.items())
        if n < rule.per_unit_min
    ]
    if run.params.detail:
        result.breakdowns.append(
            Breakdown(
                dimension=unit_name,
                rows=[
                    BreakdownRow(
                        key=code,
                        name=run.name(unit_name, code),
                        value=n,
                        numerator=n,
                        meets=n >= rule.per_unit_min,
                    )
                    for code, n in sorted(units.items())
                ],
            )
        )
    if not size:
        result.status_reason = "the institution set is empty"
        return run.judge(result, None)
    progress = Fraction(len(covered), size)
    if rule.total_min:
        progress = min(progress, Fraction(str(total.total)) / Fraction(str(rule.total_min)))
    result.extra["progress_percent"] = float(progress * 100)
    return run.judge(result, progress * 100)


def counted_by(run: Computation) -> AggregationQuery:
    """Whom the coverage rule counts (the explain view)."""
    return AggregationQuery(metric="people", filter=run.records_filter(people_at=run.period_to))
