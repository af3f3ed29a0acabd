"""One module per computation kind, and the registry the engine dispatches on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from indicators.engine.computation import Computation
from indicators.engine.kinds import (
    counted,
    coverage,
    frequency,
    headcount,
    manual,
    rate,
    share,
    turnover,
)
from indicators.engine.results import IndicatorResult
from pilnveide_contracts.records import AggregationQuery


@dataclass(frozen=True)
class Kind:
    """How one computation kind computes a result and whom it counts (for explain)."""

    compute: Callable[[Computation], Awaitable[IndicatorResult]]
    counted_by: Callable[[Computation], AggregationQuery | None]


_counted = Kind(counted.compute_counted, counted.counted_by)
_coverage = Kind(coverage.compute_coverage, coverage.counted_by)

#: Every kind of `DefinitionSpec.kind`, by name.
REGISTRY: dict[str, Kind] = {
    "distinct_people": _counted,
    "distinct_institutions": _counted,
    "count_events": _counted,
    "share": Kind(share.compute_share, share.counted_by),
    "coverage_per_institution": _coverage,
    "coverage_per_resort": _coverage,
    "people_with_frequency": Kind(frequency.compute_frequency, frequency.counted_by),
    "headcount": Kind(headcount.compute_headcount, headcount.counted_by),
    "turnover": Kind(turnover.compute_turnover, turnover.counted_by),
    "rate": Kind(rate.compute_rate, rate.counted_by),
    "manual": Kind(manual.compute_manual, manual.counted_by),
}
