"""Shapes exchanged with learning-records (see docs/contracts/) and with the catalog."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
#: Dimensions learning-records can group by (resort is derived here from the catalog).
RecordsDimension = Literal["institution", "position_group", "sector", "year", "management_level"]
HeadcountDimension = Literal["institution", "position_group", "sector", "role"]


class Period(BaseModel):
    """An inclusive date range on the enrolment's status date."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class RecordsFilter(BaseModel):
    """The contract's filter; every key optional (absent or null: no restriction)."""

    model_config = ConfigDict(extra="forbid")

    courses: list[str] | None = None
    #: The course carries at least one of these tags.
    course_tags: list[str] | None = None
    #: The course carries every one of these tags (e.g. `measure:1.1` and `specialised`).
    course_tags_all: list[str] | None = None
    #: The person counts only once they have an enrolment in the statuses, by the period's
    #: end, in every course carrying this tag (a whole programme: `programme:LEAD-MID`).
    all_courses_of: str | None = None
    statuses: list[str] | None = None
    test_passed: bool | None = None
    #: Competency assessments (`source: assessments`): the framework and method assessed.
    frameworks: list[str] | None = None
    methods: list[str] | None = None
    #: leavers: the leaving reasons counted; first_year: left within 12 months of starting.
    leaving_reasons: list[str] | None = None
    first_year: bool | None = None
    #: feedback_people: the kinds, the follow-up's answer, given 6–12 months after learning.
    feedback_kinds: list[str] | None = None
    applied_at_work: bool | None = None
    follow_up_window: bool | None = None
    period: Period | None = None
    institutions: list[str] | None = None
    sectors: list[str] | None = None
    roles: list[str] | None = None
    position_groups: list[str] | None = None
    management_levels: list[str] | None = None
    civil_servant: bool | None = None
    employment_as_of: date | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON body part for the contract (nulls left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Frequency(BaseModel):
    """Matching enrolments per person per calendar year, inclusive bounds."""

    min_per_year: int | None = Field(default=None, ge=0)
    max_per_year: int | None = Field(default=None, ge=0)


class AggregationQuery(BaseModel):
    """`POST /v1/aggregations/query` request."""

    metric: Metric
    filter: RecordsFilter = Field(default_factory=RecordsFilter)
    frequency: Frequency | None = None
    group_by: list[RecordsDimension] = Field(default_factory=list)
    #: Several groupings in one question; each answered group says which set it belongs to.
    group_by_sets: list[list[RecordsDimension]] | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON body for the contract."""
        body: dict[str, Any] = {"metric": self.metric, "filter": self.filter.wire()}
        if self.frequency is not None:
            body["frequency"] = self.frequency.model_dump(exclude_none=True)
        if self.group_by:
            body["group_by"] = list(self.group_by)
        if self.group_by_sets is not None:
            body["group_by_sets"] = [list(keys) for keys in self.group_by_sets]
        return body

    def sets(self) -> list[list[str]]:
        """The groupings asked for: `group_by_sets`, or `group_by` as the only set."""
        if self.group_by_sets is not None:
            return [list(keys) for keys in self.group_by_sets]
        return [list(self.group_by)] if self.group_by else []


class Group(BaseModel):
    """One group of an aggregation or headcount answer."""

    key: dict[str, Any]
    value: float
    #: With `group_by_sets`: the index of the set the group belongs to.
    set: int | None = None


class AggregationResult(BaseModel):
    """`POST /v1/aggregations/query` answer: groups, the distinct total and the cut-off."""

    metric: str
    groups: list[Group] = Field(default_factory=list)
    total: float = 0
    cutoff_seq: int = 0


class HeadcountFilter(BaseModel):
    """Which headcounts to add up."""

    model_config = ConfigDict(extra="forbid")

    institutions: list[str] | None = None
    sectors: list[str] | None = None
    position_groups: list[str] | None = None
    roles: list[str] | None = None


class HeadcountQuery(BaseModel):
    """`POST /v1/aggregations/headcounts` request."""

    as_of: date
    filter: HeadcountFilter = Field(default_factory=HeadcountFilter)
    group_by: list[HeadcountDimension] = Field(default_factory=list)
    #: Several groupings in one question; each answered group says which set it belongs to.
    group_by_sets: list[list[HeadcountDimension]] | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON body for the contract."""
        body: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "filter": self.filter.model_dump(exclude_none=True),
        }
        if self.group_by_sets is not None:
            body["group_by_sets"] = [list(keys) for keys in self.group_by_sets]
        else:
            body["group_by"] = list(self.group_by)
        return body

    def sets(self) -> list[list[str]]:
        """The groupings asked for: `group_by_sets`, or `group_by` as the only set."""
        if self.group_by_sets is not None:
            return [list(keys) for keys in self.group_by_sets]
        return [list(self.group_by)] if self.group_by else []


class HeadcountResult(BaseModel):
    """`POST /v1/aggregations/headcounts` answer."""

    groups: list[Group] = Field(default_factory=list)
    total: float = 0
    as_of: date
    cutoff_seq: int = 0


class Member(BaseModel):
    """One counted unit in an explain answer: a pseudonymous person and/or an institution."""

    person: str | None = None
    institution: str | None = None


class MembersResult(BaseModel):
    """Answer of the proposed `POST /v1/aggregations/members` extension."""

    members: list[Member] = Field(default_factory=list)
    cutoff_seq: int = 0


# ---- catalog -------------------------------------------------------------------------------


class YearTarget(BaseModel):
    """One year's target of an institution strategy indicator."""

    year: int
    value: float | None = None
    direction: Literal[">=", "<=", "<", ">", "="] = ">="
    relative_to_baseline: bool = False
    not_measured: bool = False
    #: The target as the strategy writes it ("+5 %", "+3 p.p."): says whether a relative
    #: target is in percent of the baseline (the default) or in percentage points.
    as_written: str | None = None

    @property
    def in_points(self) -> bool:
        """A relative target the text states in (percentage) points, not in percent."""
        written = (self.as_written or "").lower()
        return any(word in written for word in ("p.p", "punkt", "point"))


class Target(BaseModel):
    """An indicator's structured target, as the catalog holds it."""

    model_config = ConfigDict(extra="allow")

    kind: str = "none"
    value: float | None = None
    min: float | None = None
    max: float | None = None
    direction: Literal[">=", "<=", "<", ">", "="] = ">="
    #: Population of a share target (descriptive; the definition's denominator computes it).
    population: dict[str, Any] | None = None
    per_year_min: int | None = None
    per_year_max: int | None = None
    per_institution_min: int | None = None
    per_resort_min: int | None = None
    institution_set: str | list[str] | None = None
    total_min: float | None = None
    baseline: float | None = None
    baseline_year: int | None = None
    yearly: list[YearTarget] = Field(default_factory=list)
    scale_max: float | None = None
    text: str | None = None


class IndicatorInfo(BaseModel):
    """An indicator as the catalog describes it, with where it sits in its plan."""

    code: str
    title: str = ""
    plan: str = "LAP-2021-2027"
    priority: str | None = None
    measure: str | None = None
    deadline_year: int | None = None
    start_year: int = 2021
    target: Target = Field(default_factory=Target)


class InstitutionInfo(BaseModel):
    """An institution: its sector, kind and resort (its ministry; a ministry is its own)."""

    code: str
    name: str = ""
    sector: str | None = None
    kind: str | None = None
    resort: str | None = None
