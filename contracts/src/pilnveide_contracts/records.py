"""What learning-records offers the indicators service (docs/contracts/records-for-indicators.md).

`POST /v1/aggregations/query` and `/members` take an `AggregationQuery`, `/headcounts` a
`HeadcountQuery`; `GET /v1/changes` answers a `ChangesPage`, `/v1/changes/head` a `FeedHead`.
The validators state which questions are well-formed (a malformed one is a 422 at the
provider and a ValueError at the consumer); they compute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
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
    "leavers",
    "hires",
    "feedback_people",
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
#: Filter keys about leavings (only for leavers; see aggregations/employment.py).
LEAVING_KEYS = ("leaving_reasons", "first_year")
#: Filter keys about feedback (only for feedback_people; see aggregations/feedback.py).
FEEDBACK_KEYS = ("feedback_kinds", "applied_at_work", "follow_up_window")
#: What each metric counts, and which of the keys above may filter it.
SOURCE_OF: dict[str, tuple[str, tuple[str, ...]]] = {
    "assessed_people": ("competency assessments", ASSESSMENT_KEYS),
    "leavers": ("employment ends", LEAVING_KEYS),
    "hires": ("employment starts", ()),
    "feedback_people": ("feedback", ("courses", "course_tags", "course_tags_all", *FEEDBACK_KEYS)),
}
#: How many groupings one question may ask for.
MAX_SETS = 16
#: What an aggregation can group by. `resort` is the resort of the group's institution (the top
#: of its parent chain in the catalog's registry), so a person is counted once per resort.
GroupKey = Literal[
    "institution", "resort", "position_group", "sector", "year", "management_level", "municipality"
]
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
    #: The course carries every one of these tags (e.g. `measure:1.1` and `specialised`).
    course_tags_all: list[str] | None = Field(default=None, max_length=20)
    #: Count a person only once they have an enrolment (in `statuses`, by the period's end) in
    #: every course carrying this tag, e.g. all modules of a programme (`programme:LEAD-MID`).
    all_courses_of: str | None = Field(default=None, max_length=64)
    statuses: FilterValues | None = None
    test_passed: bool | None = None
    #: assessed_people: the competency framework and method (self, manager, 360, …) assessed.
    frameworks: FilterValues | None = None
    methods: FilterValues | None = None
    #: leavers: the leaving reasons counted (codes of the catalog's `leaving_reasons`).
    leaving_reasons: FilterValues | None = None
    #: leavers: true, only those who left within 12 months of starting in the institution.
    first_year: bool | None = None
    #: feedback_people: immediate and/or follow_up; the follow-up's answer on use at work; true,
    #: only feedback given 6–12 months (by calendar month) after the person learned the course.
    feedback_kinds: FilterValues | None = None
    applied_at_work: bool | None = None
    follow_up_window: bool | None = None
    period: Period | None = None
    institutions: FilterValues | None = None
    sectors: FilterValues | None = None
    roles: FilterValues | None = None
    position_groups: FilterValues | None = None
    management_levels: FilterValues | None = None
    civil_servant: bool | None = None
    #: People's attributes from their employment on this date instead of the record's date.
    employment_as_of: date | None = None
    #: With employment_as_of, the people of a population on that date (a share's numerator, a
    #: coverage): an unrestricted client counts each person under the institution employing
    #: them then, with that employment's attributes, not under the record's own institution.
    where_employed: bool | None = None

    @model_validator(mode="after")
    def _where_employed_needs_a_date(self) -> AggregationFilter:
        if self.where_employed and self.employment_as_of is None:
            raise ValueError("where_employed needs employment_as_of")
        return self


class Frequency(BaseModel):
    """How many matching enrolments a person must have in a calendar year (inclusive bounds).

    A person's enrolments of the year are counted together, whichever groups they fall in;
    `min_per_year` is 1 unless given: "at least one a year".
    """

    model_config = ConfigDict(extra="forbid")

    min_per_year: int = Field(default=1, ge=0)
    max_per_year: int | None = Field(default=None, ge=0)


class AggregationQuery(BaseModel):
    """A metric over the enrolments matching a filter, optionally grouped."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    filter: AggregationFilter = Field(default_factory=AggregationFilter)
    frequency: Frequency | None = None
    group_by: list[GroupKey] = Field(default_factory=list, max_length=7)
    #: Several groupings answered in one pass; each group says which set it belongs to.
    group_by_sets: list[list[GroupKey]] | None = Field(default=None, max_length=MAX_SETS)

    @model_validator(mode="after")
    def _frequency_needs_years(self) -> AggregationQuery:
        if self.metric == "people_with_frequency":
            self.frequency = self.frequency or Frequency()
        what, own = SOURCE_OF.get(self.metric, ("enrolments", ENROLMENT_KEYS))
        every = (*ENROLMENT_KEYS, *ASSESSMENT_KEYS, *LEAVING_KEYS, *FEEDBACK_KEYS)
        given = [k for k in every if k not in own and getattr(self.filter, k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} cannot filter {what}")
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


class ChangePublic(BaseModel):
    """One accepted write: entity, operation (create, update, delete, erase) and record id."""

    seq: int
    entity: str
    op: str
    key: str
    at: datetime


class ChangesPage(BaseModel):
    """A page of the feed, in the one list shape (`data`, `count`, `next_cursor`), and where to
    resume polling.

    `count` is how many changes (visible to the client) the feed has after the `after` the
    paging started from; `resume_after` is what to pass as `after` to poll later for changes
    written since (it moves past changes the client cannot see)."""

    data: list[ChangePublic]
    count: int
    next_cursor: str | None = None
    last_seq: int
    resume_after: int


class FeedHead(BaseModel):
    """The last sequence number of the feed."""

    last_seq: int


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
