"""What a definition says: the computation kind, its filter, denominator, coverage and target."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from indicators.sources.types import Target
from pilnveide_contracts.records import AggregationFilter, Frequency, HeadcountFilter

Kind = Literal[
    "distinct_people",
    "distinct_institutions",
    "share",
    "coverage_per_institution",
    "coverage_per_resort",
    "people_with_frequency",
    "count_events",
    "headcount",
    "turnover",
    "rate",
    "manual",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]

#: Breakdown dimensions a result can have; `resort` is rolled up from institutions.
#: Which enrolment statuses count, named after the verb of the indicator's text:
#: "took part / attended" (piedalījušies, apmeklējuši) -> attended;
#: "completed / trained / mastered" (apmācīti, apguvuši, pilnveidojuši) -> completed;
#: learned -> the service's `learned_statuses` setting (annex 3's "learning took place").
StatusRule = Literal["attended", "completed", "learned"]
STATUS_RULES: dict[str, tuple[str, ...]] = {
    "attended": ("attended", "completed", "passed"),
    "completed": ("completed", "passed"),
}
#: Kinds that count enrolments, so need a status rule.
ENROLMENT_KINDS = frozenset(
    {
        "distinct_people",
        "distinct_institutions",
        "share",
        "coverage_per_institution",
        "coverage_per_resort",
        "people_with_frequency",
        "count_events",
    }
)

Dimension = Literal["institution", "resort", "sector", "position_group", "management_level", "year"]
DEFAULT_BREAKDOWNS: list[Dimension] = ["institution", "resort", "sector", "position_group", "year"]


class InstitutionSet(BaseModel):
    """Which institutions a coverage rule runs over (all conditions must hold; null: any)."""

    model_config = ConfigDict(extra="forbid")

    sectors: list[str] | None = None
    kinds: list[str] | None = None
    codes: list[str] | None = None


class Denominator(BaseModel):
    """The population of a share: HR headcounts as of a date, or a number entered by hand."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["headcount", "manual"]
    filter: HeadcountFilter = Field(default_factory=HeadcountFilter)
    #: The headcount date: a fixed date, or (null) the result's as-of date.
    as_of: date | None = None
    value: float | None = Field(default=None, gt=0)
    #: Where a hand-entered population comes from (required with source=manual).
    reference: str | None = None
    #: The headcount's institutions chosen by the catalog's sector and kind (e.g. "valsts
    #: tiešā pārvalde": ministries, their subordinate institutions and the other state
    #: institutions); the numerator inherits them.
    institution_set: InstitutionSet | None = None

    @model_validator(mode="after")
    def _manual_needs_value(self) -> Denominator:
        if self.source == "manual" and (self.value is None or not self.reference):
            raise ValueError("a manual denominator needs a value and its reference (source)")
        return self


class Coverage(BaseModel):
    """At least `per_unit_min` people in every institution (or resort) of a set."""

    model_config = ConfigDict(extra="forbid")

    per_unit_min: int = Field(default=1, ge=1)
    institution_set: InstitutionSet = Field(default_factory=InstitutionSet)
    total_min: float | None = Field(default=None, ge=0)


class Turnover(BaseModel):
    """turnover: people who left in a year (the filter's `leaving_reasons`, `first_year`) over
    the year's average headcount (HR's on 1 January and 31 December) or over the year's hires."""

    model_config = ConfigDict(extra="forbid")

    over: Literal["average_headcount", "hires"] = "average_headcount"
    #: Retention: 100 minus the share (those who stayed).
    complement: bool = False


class Rate(BaseModel):
    """rate: a records metric over the filter, in percent of the same metric over `of` (5.1.5:
    people whose follow-up says they use the learning at work, of all who answered it)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["people", "feedback_people", "assessed_people"] = "feedback_people"
    of: AggregationFilter


class DefinitionSpec(BaseModel):
    """How one indicator is computed; versioned as a whole."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    title: str | None = None
    #: The plan's words this definition measures (the Latvian text, quoted).
    text: str | None = None
    filter: AggregationFilter = Field(default_factory=AggregationFilter)
    #: The status rule (see StatusRule); an explicit `filter.statuses` list overrides it.
    counts: StatusRule | None = None
    #: What people are counted from: enrolments, or competency assessments (3.1.1's
    #: "veikuši kompetenču novērtēšanu"; `filter.frameworks` and `filter.methods` apply).
    source: Literal["enrolments", "assessments"] = "enrolments"
    #: When the filter has no period: count from the plan's start (true) or within the year.
    cumulative: bool = True
    #: Whose institution, position group… a person counts under: at the learning event, or as
    #: of the result's date (shares and coverage always use the latter).
    attribute_people_at: Literal["event", "as_of"] = "event"
    #: distinct_institutions: what to count; distinct_people: also count the units represented.
    unit: Literal["institutions", "municipalities"] = "institutions"
    represented: Literal["institutions", "municipalities"] | None = None
    #: count_events: what to count: enrolments, hours, or distinct sessions (a course's runs:
    #: sprints, events) with a matching enrolment.
    metric: Literal["enrolments", "hours", "sessions"] = "enrolments"
    denominator: Denominator | None = None
    #: headcount: whose HR headcount on the as-of date is the value (e.g. role holders).
    population: HeadcountFilter | None = None
    frequency: Frequency | None = None
    coverage: Coverage | None = None
    turnover: Turnover | None = None
    rate: Rate | None = None
    #: A target that replaces the catalog's (null: use the catalog's target).
    target: Target | None = None
    breakdowns: list[Dimension] = Field(default_factory=lambda: list(DEFAULT_BREAKDOWNS))
    #: manual: what the observations mean.
    value_kind: Literal["number", "share", "milestone", "score"] = "number"
    notes: str | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> DefinitionSpec:
        if self.kind == "share" and self.denominator is None:
            raise ValueError("a share needs a denominator")
        if self.source == "assessments" and self.kind not in ("distinct_people", "share"):
            raise ValueError("competency assessments count people: distinct_people or share")
        if self.kind == "rate" and self.rate is None:
            raise ValueError("a rate needs its metric and the filter it is a share of (of)")
        feedback_keys = ("feedback_kinds", "applied_at_work", "follow_up_window")
        if self.kind != "rate" and any(getattr(self.filter, k) is not None for k in feedback_keys):
            raise ValueError("feedback_kinds, applied_at_work and follow_up_window filter a rate")
        if self.kind == "turnover" and self.turnover is None:
            raise ValueError("turnover needs a turnover rule (over, complement)")
        if self.kind != "turnover" and (
            self.filter.leaving_reasons is not None or self.filter.first_year is not None
        ):
            raise ValueError("leaving_reasons and first_year filter only turnover")
        if self.kind == "headcount" and self.population is None:
            raise ValueError("a headcount needs a population")
        if self.kind == "people_with_frequency" and self.frequency is None:
            raise ValueError("people_with_frequency needs a frequency")
        if self.kind in ("coverage_per_institution", "coverage_per_resort") and (
            self.coverage is None
        ):
            raise ValueError(f"{self.kind} needs a coverage rule")
        return self

    @property
    def has_status_rule(self) -> bool:
        """Whether the definition says which enrolment statuses count (manual ones need not)."""
        if self.kind not in ENROLMENT_KINDS or self.source == "assessments":
            return True
        return self.counts is not None or self.filter.statuses is not None

    def statuses(self, learned: tuple[str, ...] | list[str]) -> list[str] | None:
        """The statuses that count: the explicit list, else the rule's (None: no rule)."""
        if self.source == "assessments":
            return None
        if self.filter.statuses is not None:
            return list(self.filter.statuses)
        if self.counts is None:
            return None
        if self.counts == "learned":
            return list(learned)
        return list(STATUS_RULES[self.counts])

    @property
    def computed(self) -> bool:
        """True when the value comes from the records (not from hand-entered observations)."""
        return self.kind != "manual"
