"""Compute one indicator: dispatch on its kind (`engine/kinds/`), then tell a late achievement.

Everything is counted in learning-records (no rows of people leave it); the kinds choose the
queries, add up what may be added up (sums of numerators and of denominators, never averages of
percentages), apply coverage rules and judge the value against the target.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from indicators.definitions.spec import DefinitionSpec
from indicators.engine.computation import (
    HEADCOUNT_DIMENSIONS,
    RECORDS_DIMENSIONS,
    Computation,
    Dataset,
    Params,
    in_set,
    key_of,
    resort_of,
    with_resorts,
)
from indicators.engine.kinds import REGISTRY
from indicators.engine.results import IndicatorResult
from indicators.sources.protocols import RecordsSource
from indicators.sources.types import IndicatorInfo
from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    HeadcountQuery,
    HeadcountResult,
)

__all__ = [
    "HEADCOUNT_DIMENSIONS",
    "RECORDS_DIMENSIONS",
    "Computation",
    "Dataset",
    "Params",
    "compute",
    "counted_query",
    "in_set",
    "key_of",
    "resort_of",
    "with_resorts",
]


async def compute(
    code: str,
    spec: DefinitionSpec,
    version: int,
    info: IndicatorInfo,
    params: Params,
    records: RecordsSource,
    dataset: Dataset | None = None,
) -> IndicatorResult:
    """Compute one indicator for the given parameters."""
    dataset = dataset or Dataset()
    result = await _compute_once(code, spec, version, info, params, records, dataset)
    deadline = date(info.deadline_year, 12, 31) if info.deadline_year else None
    yearly = bool(result.target and result.target.yearly)
    # (A period asked for that starts after the deadline has nothing to be late against.)
    before = params.period_from is None or deadline is None or params.period_from <= deadline
    if (
        result.status == "achieved"
        and deadline
        and params.as_of > deadline
        and not yearly
        and before
    ):
        # Met now, past the deadline: was it met by the deadline? If not, it was met late.
        period_to = (
            params.period_to if params.period_to is None else min(params.period_to, deadline)
        )
        at_deadline = await _compute_once(
            code,
            spec,
            version,
            info,
            replace(params, as_of=deadline, period_to=period_to, detail=False, series=False),
            records,
            dataset,
        )
        result.cutoff_seq = max(
            [s for s in (result.cutoff_seq, at_deadline.cutoff_seq) if s is not None], default=None
        )
        if at_deadline.status != "achieved":
            result.status = "achieved_late"
            result.status_reason = (
                f"{result.status_reason}; not yet met on {deadline.isoformat()}, the deadline"
            )
    return result


async def _compute_once(
    code: str,
    spec: DefinitionSpec,
    version: int,
    info: IndicatorInfo,
    params: Params,
    records: RecordsSource,
    dataset: Dataset,
) -> IndicatorResult:
    run = Computation(code, spec, version, info, params, records, dataset)
    return await REGISTRY[spec.kind].compute(run)


def counted_query(
    code: str, spec: DefinitionSpec, info: IndicatorInfo, params: Params, dataset: Dataset
) -> AggregationQuery | None:
    """The aggregation whose members an explain view lists (None for hand-reported values)."""
    run = Computation(code, spec, 0, info, params, _NoRecords(), dataset)
    return REGISTRY[spec.kind].counted_by(run)


class _NoRecords:
    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        raise NotImplementedError

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        raise NotImplementedError

    async def head(self) -> int:
        raise NotImplementedError

    async def members(self, query: AggregationQuery) -> Any:
        raise NotImplementedError
