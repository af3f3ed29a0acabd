"""The shapes results routes answer besides a result itself: list items, plan progress, explain."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from pilnveide_contracts.records import Member


class IndicatorSummary(BaseModel):
    """One indicator in a list: its value, target and status."""

    code: str
    title: str
    priority: str | None
    measure: str | None
    kind: str | None
    definition_version: int | None
    value: float | None
    numerator: float | None
    denominator: float | None
    unit: str | None
    target_kind: str
    deadline_year: int | None
    status: str
    cutoff_seq: int | None


class ProgressCounts(BaseModel):
    """How many indicators are in each status."""

    code: str
    indicators: int = 0
    achieved: int = 0
    achieved_late: int = 0
    above_range: int = 0
    on_track: int = 0
    at_risk: int = 0
    not_achieved: int = 0
    no_data: int = 0
    no_target: int = 0
    not_defined: int = 0


class PlanProgress(BaseModel):
    """Plan progress per priority and measure on a date."""

    plan: str
    as_of: date
    cutoff_seq: int | None
    total: ProgressCounts
    priorities: list[ProgressCounts] = Field(default_factory=list)
    measures: list[ProgressCounts] = Field(default_factory=list)


class ExplainView(BaseModel):
    """Who an indicator counted: pseudonymous people and/or institutions."""

    code: str
    definition_version: int
    cutoff_seq: int | None
    metric: str | None
    filter: dict[str, Any] | None
    members: list[Member]


class ExplainPage(BaseModel):
    """Whom an indicator counted, one page of pseudonymous people or institutions."""

    code: str
    definition_version: int
    cutoff_seq: int | None
    metric: str | None
    filter: dict[str, Any] | None
    count: int
    data: list[Member]
    next_cursor: str | None = None
