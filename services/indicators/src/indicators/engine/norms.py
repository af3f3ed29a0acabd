"""Annex 3 norms per institution, from the records and HR headcounts.

- formal learning hours per employee per month (the plan: at least 2 h);
- share of employees with any learning in the year;
- concentration: enrolments per person who learnt (1.0 = every enrolment went to a different
  person; the higher, the more the same people are sent again and again), beside the share of
  employees who learnt, so "many trainings, few people" stands out;
- no-show rate: no-shows among enrolments that were due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from fractions import Fraction

from pydantic import BaseModel, Field

from indicators.sources.protocols import RecordsSource
from indicators.sources.types import InstitutionInfo
from pilnveide_contracts.records import (
    AggregationFilter,
    AggregationQuery,
    HeadcountFilter,
    HeadcountQuery,
    Period,
)

HOURS_PER_MONTH_MIN = 2.0


class NormRow(BaseModel):
    """One institution's annex 3 figures for a year."""

    institution: str
    name: str | None = None
    headcount: float | None = None
    hours: float = 0
    hours_per_employee_month: float | None = None
    meets_hours_norm: bool | None = None
    learners: float = 0
    learning_share: float | None = None
    enrolments: float = 0
    enrolments_per_learner: float | None = None
    due_enrolments: float = 0
    no_shows: float = 0
    no_show_rate: float | None = None


class NormsResult(BaseModel):
    """Annex 3 norms of every institution (within the caller's scope) for one year."""

    year: int
    as_of: date
    months: int
    hours_per_month_min: float = HOURS_PER_MONTH_MIN
    cutoff_seq: int | None = None
    rows: list[NormRow] = Field(default_factory=list)


def _ratio(numerator: float, denominator: float | None, scale: int = 1) -> float | None:
    if not denominator:
        return None
    return float(Fraction(str(numerator)) * scale / Fraction(str(denominator)))


async def annex3_norms(
    records: RecordsSource,
    institutions: Mapping[str, InstitutionInfo],
    *,
    year: int,
    as_of: date,
    scope: frozenset[str] | None,
    learned_statuses: list[str],
    due_statuses: list[str],
    no_show_statuses: list[str],
) -> NormsResult:
    """Compute the four norms for each institution in a year (up to the as-of date)."""
    end = min(date(year, 12, 31), as_of)
    months = 12 if end.year > year or end == date(year, 12, 31) else end.month
    chosen = sorted(scope) if scope is not None else None
    result = NormsResult(year=year, as_of=as_of, months=months)
    if chosen == []:
        return result

    def people_filter(statuses: list[str]) -> AggregationFilter:
        return AggregationFilter(
            statuses=statuses,
            period=Period(from_=date(year, 1, 1), to=end),
            institutions=chosen,
            employment_as_of=end,
        )

    def query(metric: str, statuses: list[str]) -> AggregationQuery:
        return AggregationQuery.model_validate(
            {"metric": metric, "filter": people_filter(statuses), "group_by": ["institution"]}
        )

    answers = await asyncio.gather(
        records.aggregate(query("hours", learned_statuses)),
        records.aggregate(query("people", learned_statuses)),
        records.aggregate(query("enrolments", learned_statuses)),
        records.aggregate(query("enrolments", due_statuses)),
        records.aggregate(query("enrolments", no_show_statuses)),
    )
    headcounts = await records.headcounts(
        HeadcountQuery(
            as_of=end, filter=HeadcountFilter(institutions=chosen), group_by=["institution"]
        )
    )
    hours, learners, enrolments, due, no_shows = (
        {str(g.key["institution"]): g.value for g in a.groups} for a in answers
    )
    staff = {str(g.key["institution"]): g.value for g in headcounts.groups}
    result.cutoff_seq = max([a.cutoff_seq for a in answers] + [headcounts.cutoff_seq])
    codes = set(hours) | set(learners) | set(enrolments) | set(due) | set(staff)
    for code in sorted(codes):
        if scope is not None and code not in scope:
            continue
        headcount = staff.get(code)
        per_month = _ratio(hours.get(code, 0.0), (headcount or 0) * months)
        result.rows.append(
            NormRow(
                institution=code,
                name=institutions[code].name if code in institutions else None,
                headcount=headcount,
                hours=hours.get(code, 0.0),
                hours_per_employee_month=per_month,
                meets_hours_norm=None if per_month is None else per_month >= HOURS_PER_MONTH_MIN,
                learners=learners.get(code, 0.0),
                learning_share=_ratio(learners.get(code, 0.0), headcount, 100),
                enrolments=enrolments.get(code, 0.0),
                enrolments_per_learner=_ratio(enrolments.get(code, 0.0), learners.get(code)),
                due_enrolments=due.get(code, 0.0),
                no_shows=no_shows.get(code, 0.0),
                no_show_rate=_ratio(no_shows.get(code, 0.0), due.get(code), 100),
            )
        )
    return result
