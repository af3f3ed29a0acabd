"""Requests and answers of the aggregation endpoints the indicators service calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Metric = Literal[
    "people",
    "institutions",
    "municipalities",
    "enrolments",
    "hours",
    "sessions",
    "people_with_frequency",
    "assessed_people",
]
#: Filter keys about enrolments (not for assessed_people) and about assessments (only for it).
ENROLMENT_KEYS = (
    "courses",
    "course_tags",
    "course_tags_all",
    "all_courses_of",
    "statuses",
    "test_passed",
)
ASSESSMENT_KEYS = ("frameworks", "methods")
#: How many groupings one question may ask for.
MAX_SETS = 16
GroupKey = Literal["institution", "position_group", "sector", "year", "management_level"]
HeadcountGroupKey = Literal["institution", "position_group", "sector", "role"]
#: Most values one filter key may list (every institution of the state is a few hundred; the
#: bound keeps a question within the database's parameter limit).
MAX_FILTER_VALUES = 5_000
#: A filter's values: codes, statuses, tags (each at most 200 characters).
FilterValues = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]],
    Field(max_length=MAX_FILTER_VALUES),
]


def _check_sets(group_by: Sequence[str], sets: Sequence[Sequence[str]] | None) -> None:
    if len(set(group_by)) != len(group_by):
        raise ValueError("group_by names a key twice")
    if sets is None:
        return
    if group_by:
        raise ValueError("give group_by or group_by_sets, not both")
    seen: set[frozenset[str]] = set()
    for keys in sets:
        if len(set(keys)) != len(keys):
            raise ValueError("a set of group_by_sets names a key twice")
        if frozenset(keys) in seen:
            raise ValueError("group_by_sets names the same set twice")
        seen.add(frozenset(keys))


class Period(BaseModel):
    """An inclusive date range (either end may be open)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class AggregationFilter(BaseModel):
    """Which enrolments count; every key is optional (absent or null: no restriction)."""

    model_config = ConfigDict(extra="forbid")

    courses: FilterValues | None = None
    #: The course carries at least one of these tags.
    course_tags: FilterValues | None = None
    #: The course carries every one of these tags.
    course_tags_all: list[str] | None = Field(default=None, max_length=20)
    #: Count a person only once they have an enrolment (in `statuses`, by the period's end) in
    #: every course carrying this tag, e.g. all modules of a programme.
    all_courses_of: str | None = Field(default=None, max_length=64)
    statuses: FilterValues | None = None
    test_passed: bool | None = None
    #: assessed_people: the competency framework and method (self, manager, 360, …) assessed.
    frameworks: FilterValues | None = None
    methods: FilterValues | None = None
    period: Period | None = None
    institutions: FilterValues | None = None
    sectors: FilterValues | None = None
    roles: FilterValues | None = None
    position_groups: FilterValues | None = None
    management_levels: FilterValues | None = None
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
    #: Several groupings answered in one pass; each group says which set it belongs to.
    group_by_sets: list[list[GroupKey]] | None = Field(default=None, max_length=MAX_SETS)

    @model_validator(mode="after")
    def _frequency_needs_years(self) -> AggregationQuery:
        if self.metric == "people_with_frequency":
            self.frequency = self.frequency or Frequency()
        assessed = self.metric == "assessed_people"
        wrong = ENROLMENT_KEYS if assessed else ASSESSMENT_KEYS
        given = [key for key in wrong if getattr(self.filter, key) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} cannot filter "
                + ("competency assessments" if assessed else "enrolments")
            )
        _check_sets(self.group_by, self.group_by_sets)
        return self

    def sets(self) -> list[list[str]]:
        """The groupings asked for: `group_by_sets`, or `group_by` as the only set."""
        if self.group_by_sets is not None:
            return [list(keys) for keys in self.group_by_sets]
        return [list(self.group_by)] if self.group_by else []


class Group(BaseModel):
    """One group of an answer: its key values, the metric's value and (with sets) its set."""

    key: dict[str, str | int | None]
    value: float | int
    #: With `group_by_sets`: the index of the set this group belongs to (else null).
    set: int | None = None


class AggregationResult(BaseModel):
    """The metric per group, the distinct total over the whole filter, and the feed cutoff."""

    metric: Metric
    groups: list[Group]
    total: float | int
    cutoff_seq: int


class HeadcountFilter(BaseModel):
    """Which headcounts to add up."""

    model_config = ConfigDict(extra="forbid")

    institutions: FilterValues | None = None
    sectors: FilterValues | None = None
    position_groups: FilterValues | None = None
    roles: FilterValues | None = None


class HeadcountQuery(BaseModel):
    """Headcounts as of a date (the latest report on or before it for each series)."""

    model_config = ConfigDict(extra="forbid")

    as_of: date
    filter: HeadcountFilter = Field(default_factory=HeadcountFilter)
    group_by: list[HeadcountGroupKey] = Field(default_factory=list, max_length=4)
    #: Several groupings answered in one statement; each group says which set it belongs to.
    group_by_sets: list[list[HeadcountGroupKey]] | None = Field(default=None, max_length=MAX_SETS)

    @model_validator(mode="after")
    def _sets_are_distinct(self) -> HeadcountQuery:
        _check_sets(self.group_by, self.group_by_sets)
        return self

    def sets(self) -> list[list[str]]:
        """The groupings asked for: `group_by_sets`, or `group_by` as the only set."""
        if self.group_by_sets is not None:
            return [list(keys) for keys in self.group_by_sets]
        return [list(self.group_by)] if self.group_by else []


class HeadcountResult(BaseModel):
    """Headcount per group and in total, as of a date."""

    groups: list[Group]
    total: int
    as_of: date
    cutoff_seq: int


class Member(BaseModel):
    """One counted unit: a person's pseudonym with their institution, or an institution."""

    person: str | None = None
    institution: str | None = None


class MembersResult(BaseModel):
    """Who an aggregation counts (the explain view), at one feed cutoff."""

    members: list[Member]
    cutoff_seq: int


#: Most questions one batch may carry.
MAX_BATCH = 64


class BatchQuery(BaseModel):
    """Several aggregation and headcount questions, answered in one request at one cutoff."""

    model_config = ConfigDict(extra="forbid")

    aggregations: list[AggregationQuery] = Field(default_factory=list, max_length=MAX_BATCH)
    headcounts: list[HeadcountQuery] = Field(default_factory=list, max_length=MAX_BATCH)


class BatchResult(BaseModel):
    """The answers in the order asked, all from one snapshot (one `cutoff_seq`)."""

    aggregations: list[AggregationResult]
    headcounts: list[HeadcountResult]
    cutoff_seq: int
