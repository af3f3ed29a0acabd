"""Plans: the national plan and institutions' strategies, their priorities or goals, measures,
indicators with structured targets, and yearly targets with baselines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field

from catalog.common.i18n import Text
from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime

NATIONAL_PLAN = "LAP-2021-2027"


class Plan(CatalogModel, table=True):
    """A plan as published: the national plan or an institution's operational strategy."""

    __tablename__ = "plan"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=32)
    title_lv: str
    title_en: str | None = None
    owner_institution: str | None = Field(default=None, max_length=64)
    period_start: int
    period_end: int
    source: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    annex: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    #: The document's footnotes as written ({marker, lv, en}), e.g. why a year is not measured.
    footnotes: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    version: int = 1
    sha256: str = Field(max_length=64)
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())


class PlanVersion(CatalogModel, table=True):
    """One loaded version of a plan's data file: its hash and when it was loaded."""

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("plan_code", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_code: str = Field(max_length=64, index=True)
    version: int
    sha256: str = Field(max_length=64)
    source_file: str = Field(max_length=255)
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())


class Priority(CatalogModel, table=True):
    """A strategic priority of the national plan, or a goal of an institution's strategy."""

    __tablename__ = "priority"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    plan_code: str = Field(max_length=64)
    code: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    sort_key: str = Field(max_length=100)
    title_lv: str
    title_en: str | None = None
    funding: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    nap_links: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    search_text: str = ""


class Measure(CatalogModel, table=True):
    """A measure of the plan ("1.1" … "5.5"): text, expected results, institutions, deadline."""

    __tablename__ = "measure"
    __table_args__ = (
        UniqueConstraint("plan_id", "code"),
        Index("ix_measure_plan_code_sort_key", "plan_code", "sort_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    plan_code: str = Field(max_length=64)
    priority_id: int = Field(foreign_key="priority.id", index=True)
    priority_code: str = Field(max_length=32)
    code: str = Field(max_length=32)
    sort_key: str = Field(max_length=100)
    text_lv: str
    text_en: str | None = None
    results: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    deadline_year: int | None = None
    search_text: str = ""


class MeasureInstitution(CatalogModel, table=True):
    """An institution named for a measure, as responsible, co-responsible or cooperating."""

    __tablename__ = "measure_institution"
    __table_args__ = (
        UniqueConstraint("measure_id", "role", "institution_code"),
        Index("ix_measure_institution_institution_code", "institution_code", "role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    role: str = Field(max_length=16)
    institution_code: str = Field(max_length=64)
    position: int = 0


class Indicator(CatalogModel, table=True):
    """A performance indicator with its structured target, unit, scale and baseline."""

    __tablename__ = "indicator"
    __table_args__ = (
        UniqueConstraint("plan_id", "code"),
        Index("ix_indicator_plan_code_sort_key", "plan_code", "sort_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    plan_code: str = Field(max_length=64)
    priority_id: int = Field(foreign_key="priority.id", index=True)
    priority_code: str = Field(max_length=32)
    measure_id: int | None = Field(default=None, foreign_key="measure.id", index=True)
    measure_code: str | None = Field(default=None, max_length=32)
    code: str = Field(max_length=32)
    sort_key: str = Field(max_length=100)
    text_lv: str
    text_en: str | None = None
    target_kind: str | None = Field(default=None, max_length=40, index=True)
    target: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    target_as_written: str | None = None
    unit: str | None = Field(default=None, max_length=64)
    scale: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    data_source: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    baseline: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    #: A strategy's "Rezultāts" (expected result) the indicator measures ({lv, en}).
    result: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    search_text: str = ""


class YearlyTarget(CatalogModel, table=True):
    """What a strategy states for one indicator in one year: a target, a baseline, not measured."""

    __tablename__ = "yearly_target"
    __table_args__ = (UniqueConstraint("indicator_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    year: int
    kind: str = Field(max_length=16)
    value: float | None = None
    direction: str | None = Field(default=None, max_length=2)
    relative_to_baseline: bool = False
    as_written: str | None = None


# ---- served shapes -------------------------------------------------------------------------


class Period(BaseModel):
    """First and last year a plan covers."""

    start: int
    end: int


class PlanVersionPublic(BaseModel):
    """One loaded version of a plan's data file."""

    version: int
    sha256: str
    source_file: str
    loaded_at: datetime


class PlanPublic(BaseModel):
    """A plan: what it is, whose, the period, its source and the version loaded."""

    code: str
    kind: str
    title: Text
    owner_institution: str | None
    period: Period
    source: dict[str, Any]
    version: int
    sha256: str
    loaded_at: datetime
    priorities: int
    measures: int
    indicators: int


class PlanDetail(PlanPublic):
    """A plan with its annex data (the national plan's annex 5 funding and trainees)."""

    annex5: dict[str, Any] | None = None
    #: The document's footnotes ({marker, lv, en}) as written.
    footnotes: list[dict[str, Any]] = []


class PriorityPublic(BaseModel):
    """A priority (or a strategy's goal) with its funding and National Development Plan links."""

    plan: str
    code: str
    kind: str
    title: Text
    funding: dict[str, Any] | None
    nap_links: list[dict[str, Any]]
    measures: list[str]


class YearlyTargetPublic(BaseModel):
    """One year of an indicator's target series."""

    year: int
    kind: str
    value: float | None
    direction: str | None
    relative_to_baseline: bool
    as_written: str | None


class IndicatorPublic(BaseModel):
    """A performance indicator and its structured target (and, for strategies, yearly targets)."""

    plan: str
    code: str
    priority: str
    measure: str | None
    text: Text
    target_kind: str | None
    target: dict[str, Any] | None
    target_as_written: str | None
    unit: str | None
    scale: dict[str, Any] | None
    data_source: dict[str, Any] | None
    baseline: dict[str, Any] | None
    #: A strategy's "Rezultāts": the expected result the indicator measures ({lv, en}).
    result: dict[str, Any] | None = None
    yearly: list[YearlyTargetPublic]


class InstitutionRef(BaseModel):
    """An institution named by a measure."""

    code: str
    name: Text | None


class MeasureInstitutions(BaseModel):
    """The institutions of a measure, by role, in the order the plan names them."""

    responsible: list[InstitutionRef]
    co_responsible: list[InstitutionRef]
    cooperating: list[InstitutionRef]


class MeasurePublic(BaseModel):
    """A measure with its expected results, institutions and deadline year."""

    plan: str
    code: str
    priority: str
    text: Text
    results: list[Text]
    deadline_year: int | None
    institutions: MeasureInstitutions
    indicators: list[str]


class MeasureDetail(MeasurePublic):
    """A measure with its indicators in full."""

    indicator_details: list[IndicatorPublic]
