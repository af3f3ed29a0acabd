"""What a computed indicator looks like: value, parts, target, status, cut-off, breakdowns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from indicators.sources.types import Target

Status = Literal[
    "achieved",
    "achieved_late",
    "above_range",
    "on_track",
    "at_risk",
    "not_achieved",
    "no_data",
    "no_target",
]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]


class BreakdownRow(BaseModel):
    """One row of a breakdown: its key, and value with numerator and denominator."""

    key: str
    name: str | None = None
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    #: Coverage kinds: whether this institution or resort meets the per-unit minimum.
    meets: bool | None = None


class Breakdown(BaseModel):
    """A result split along one dimension."""

    dimension: str
    rows: list[BreakdownRow] = Field(default_factory=list)


class SeriesPoint(BaseModel):
    """One year of a time series (within the year, or cumulative from the plan's start)."""

    year: int
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None


class YearJudgement(BaseModel):
    """One year of an institution strategy indicator judged against that year's target."""

    year: int
    value: float | None = None
    target: float | None = None
    direction: str = ">="
    status: Literal["achieved", "on_track", "at_risk", "not_achieved", "no_data", "not_measured"]


class Shortfall(BaseModel):
    """An institution or resort that falls short of a coverage rule."""

    unit: Literal["institution", "resort"]
    code: str
    name: str | None = None
    value: float
    required: float


class Observation(BaseModel):
    """The hand-entered observation a manual result shows."""

    value: float | None = None
    text: str | None = None
    observed_on: date
    source: str
    entered_by: str


class IndicatorResult(BaseModel):
    """An indicator computed from the records (or observed by hand), judged against its target."""

    code: str
    title: str = ""
    plan: str
    priority: str | None = None
    measure: str | None = None
    kind: str
    definition_version: int
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    unit: str = "people"
    #: Extra figures of the same computation (e.g. institutions represented, people in total).
    extra: dict[str, Any] = Field(default_factory=dict)
    target: Target | None = None
    target_kind: str = "none"
    deadline_year: int | None = None
    expected_by_now: float | None = None
    status: Status
    status_reason: str = ""
    as_of: date
    period_from: date | None = None
    period_to: date | None = None
    #: learning-records change-feed sequence the figures reflect (null: nothing was read).
    cutoff_seq: int | None = None
    #: When it was computed (reads serve stored results; see docs/indicators.md, freshness).
    computed_at: datetime | None = None
    institutions_scope: list[str] | None = None
    breakdowns: list[Breakdown] = Field(default_factory=list)
    per_year: list[SeriesPoint] = Field(default_factory=list)
    cumulative: list[SeriesPoint] = Field(default_factory=list)
    yearly_targets: list[YearJudgement] = Field(default_factory=list)
    shortfall: list[Shortfall] = Field(default_factory=list)
    observation: Observation | None = None


class ResultSummary(BaseModel):
    """The top-level figures of a result that lists and plan progress show (no breakdowns).

    Stored beside each result (`indicator_result.summary`) so a plan's list reads these few
    fields, not every stored result whole. Parsing a whole result's JSON into it also works
    (the other fields are ignored): rows stored before the summary column are read that way.
    """

    title: str = ""
    kind: str
    definition_version: int
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    unit: str = "people"
    status: Status
    cutoff_seq: int | None = None

    @classmethod
    def of(cls, result: IndicatorResult) -> ResultSummary:
        """The summary of a whole result."""
        return cls.model_validate(result.model_dump(include=set(cls.model_fields)))
