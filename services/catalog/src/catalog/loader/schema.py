"""The shapes of the reviewed seed files (plans, strategies, reference lists, programmes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog.common.i18n import LocalizedText


class Seed(BaseModel):
    """Base: unknown members are kept (a reviewer may add notes), never silently dropped."""

    model_config = ConfigDict(extra="allow")


class SeedPeriod(Seed):
    start: int
    end: int


class SeedInstitution(Seed):
    code: str = Field(min_length=1, max_length=64)
    name: LocalizedText
    kind: Literal["ministry", "subordinate", "municipality", "university", "group", "other"]
    sector: Literal["state", "municipal", "other"]
    parent: str | None = None


class InstitutionRegistrySeed(Seed):
    """Institutions beyond those a plan names (ministries, municipalities), with their source."""

    kind: Literal["institution_registry"]
    source: LocalizedText
    institutions: list[SeedInstitution] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_unique(self) -> InstitutionRegistrySeed:
        codes = [i.code for i in self.institutions]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"codes appear more than once: {', '.join(duplicates)}")
        return self


TARGET_KINDS = {
    "count",
    "min_count",
    "min_share",
    "share",
    "range",
    "frequency",
    "coverage_per_institution",
    "coverage_per_resort",
    "milestone",
}


class SeedIndicator(Seed):
    code: str = Field(min_length=1, max_length=32)
    text: LocalizedText
    target: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _known_target(self) -> SeedIndicator:
        if self.target is not None and self.target.get("kind") not in TARGET_KINDS:
            raise ValueError(
                f"indicator {self.code}: unknown target kind {self.target.get('kind')}"
            )
        return self


class SeedMeasure(Seed):
    code: str = Field(min_length=1, max_length=32)
    text: LocalizedText
    results: list[LocalizedText] = []
    responsible: list[str] = []
    co_responsible: list[str] = []
    cooperating: list[str] = []
    deadline_year: int | None = None
    indicators: list[SeedIndicator] = []


class SeedPriority(Seed):
    number: int
    title: LocalizedText
    funding: dict[str, Any] | None = None
    nap_links: list[dict[str, Any]] = []
    measures: list[SeedMeasure] = []


class SeedFootnote(Seed):
    """A footnote of the document as written (its marker, the Latvian text, a translation)."""

    marker: str = Field(min_length=1, max_length=8)
    lv: str = Field(min_length=1)
    en: str | None = None


class NationalPlanSeed(Seed):
    code: str
    kind: Literal["national_plan"]
    title: LocalizedText
    owner_institution: str | None = None
    period: SeedPeriod
    source: dict[str, Any] = {}
    institutions: list[SeedInstitution] = []
    priorities: list[SeedPriority]
    annex5: dict[str, Any] | None = None
    footnotes: list[SeedFootnote] = []


class SeedBaseline(Seed):
    year: int | None = None
    value: float | None = None
    as_written: str | None = None


class SeedYear(Seed):
    year: int
    as_written: str | None = None
    kind: Literal["target", "baseline", "not_measured", "none"]
    value: float | None = None
    direction: Literal[">=", "<=", "<", ">", "="] | None = None
    relative_to_baseline: bool = False


class SeedScale(Seed):
    min: float
    max: float
    name: LocalizedText | None = None


class SeedStrategyIndicator(Seed):
    code: str = Field(min_length=1, max_length=32)
    text: LocalizedText
    unit: str | None = None
    scale: SeedScale | None = None
    data_source: LocalizedText | None = None
    baseline: SeedBaseline | None = None
    #: The "Rezultāts" (expected result) column the indicator measures.
    result: LocalizedText | None = None
    yearly: list[SeedYear] = []

    @model_validator(mode="after")
    def _one_entry_a_year(self) -> SeedStrategyIndicator:
        years = [y.year for y in self.yearly]
        if len(years) != len(set(years)):
            raise ValueError(f"indicator {self.code}: a year appears twice")
        return self


class SeedGoal(Seed):
    code: str = Field(min_length=1, max_length=32)
    title: LocalizedText
    indicators: list[SeedStrategyIndicator] = []


class StrategySeed(Seed):
    code: str
    kind: Literal["institution_strategy"]
    title: LocalizedText
    owner_institution: str | None = None
    period: SeedPeriod
    source: dict[str, Any] = {}
    goals: list[SeedGoal]
    footnotes: list[SeedFootnote] = []


class SeedReferenceItem(Seed):
    code: str = Field(min_length=1, max_length=64)
    name: LocalizedText
    attributes: dict[str, Any] = {}


class SeedReferenceList(Seed):
    code: str
    title: LocalizedText
    items: list[SeedReferenceItem]


class ReferenceSeed(Seed):
    kind: Literal["reference_lists"]
    lists: list[SeedReferenceList]
