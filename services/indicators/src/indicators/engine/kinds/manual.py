"""manual: hand-reported indicators, from observations entered through the API."""

from __future__ import annotations

from indicators.engine.computation import Computation
from indicators.engine.results import IndicatorResult, SeriesPoint
from indicators.engine.status import exact
from pilnveide_contracts.records import AggregationQuery


async def compute_manual(run: Computation) -> IndicatorResult:
    """The latest hand-entered observation on or before the as-of date."""
    seen = sorted(
        (o for o in run.dataset.observations if o.observed_on <= run.as_of),
        key=lambda o: o.observed_on,
    )
    latest = seen[-1] if seen else None
    unit = {"number": "number", "share": "percent", "milestone": "milestone", "score": "score"}[
        run.spec.value_kind
    ]
    result = run.result(value=latest.value if latest else None, unit=unit, observation=latest)
    result.period_from = None
    by_year: dict[int, float | None] = {}
    for observation in seen:
        by_year[observation.observed_on.year] = observation.value
    result.per_year = [SeriesPoint(year=y, value=v) for y, v in sorted(by_year.items())]
    if latest is None:
        result.status_reason = "no observation entered yet"
    return run.judge(result, exact(latest.value) if latest and latest.value is not None else None)


def counted_by(run: Computation) -> AggregationQuery | None:
    """Nobody: the value was observed by hand."""
    return None
