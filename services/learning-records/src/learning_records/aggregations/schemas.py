"""Requests and answers of the aggregation endpoints the indicators service calls."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Metric = Literal[
    "people", "institutions", "municipalities", "enrolments", "hours", "people_with_frequency"
]
GroupKey = Literal["institution", "position_group", "sector", "year", "management_level"]
HeadcountGroupKey = Literal["institution", "position_group", "sector", "role"]


class Period(BaseModel):
    """An inclusive date range (either end may be open)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class AggregationFilter(BaseModel):
    """Which enrolments count; every key is optional (absent or null: no restriction)."""

    model_config = ConfigDict(extra="forbid")

    courses: list[str] | None = None
    course_tags: list[str] | None = None
    statuses: list[str] | None = None
    test_passed: bool | None = None
    period: Period | None = None
    institutions: list[str] | None = None
    sectors: list[str] | None = None
    roles: list[str] | None = None
    position_groups: list[str] | None = None
    management_levels: list[str] | None = None
    civil_servant: bool | None = None
    employment_as_of: date | None = None


class Frequency(BaseModel):
    """How many matching enrolments a person must have in a calendar year."""

    model_config = ConfigDict(extra="forbid")

    min_per_year: int = Field(default=1, ge=0)
    max_per_year: int | None = Field(default=None, ge=0)


class AggregationQuery(BaseModel):
    """A metric over the enrolments matching a filter, optionally grouped."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    filter: AggregationFilter = Field(default_factory=AggregationFilter)
    frequency: Frequency | None = None
    group_by: list[GroupKey] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _frequency_needs_years(self) -> AggregationQuery:
        if self.metric == "people_with_frequency":
            self.frequency = self.frequency or Frequency()
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by names a key twice")
        return self


class Group(BaseModel):
    """One group of an answer: its key values and the metric's value."""

    key: dict[str, str | int | None]
    value: float | int


class AggregationResult(BaseModel):
    """The metric per group, the distinct total over the whole filter, and the feed cutoff."""

    metric: Metric
    groups: list[Group]
    total: float | int
    cutoff_seq: int


class HeadcountFilter(BaseModel):
    """Which headcounts to add up."""

    model_config = ConfigDict(extra="forbid")

    institutions: list[str] | None = None
    sectors: list[str] | None = None
    position_groups: list[str] | None = None
    roles: list[str] | None = None


class HeadcountQuery(BaseModel):
    """Headcounts as of a date (the latest report on or before it for each series)."""

    model_config = ConfigDict(extra="forbid")

    as_of: date
    filter: HeadcountFilter = Field(default_factory=HeadcountFilter)
    group_by: list[HeadcountGroupKey] = Field(default_factory=list, max_length=4)


class HeadcountResult(BaseModel):
    """Headcount per group and in total, as of a date."""

    groups: list[Group]
    total: int
    as_of: date
    cutoff_seq: int
