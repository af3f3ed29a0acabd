"""Shapes read from the catalog.

What learning-records answers is the shared contract, `pilnveide_contracts.records`
(docs/contracts/records-for-indicators.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
