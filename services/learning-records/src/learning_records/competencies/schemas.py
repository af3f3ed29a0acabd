"""Competency gaps as served: one row per person and required competency, and summaries."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

GapStatus = Literal["below", "meets", "above", "not_assessed"]


class CompetencyGap(BaseModel):
    """A required competency of one person: required level, latest assessed level, the gap."""

    pseudonym: str
    #: The person's id in the institution's HR system (where it pushed the link).
    source_system: str | None
    external_id: str | None
    institution: str
    position_group: str | None
    framework: str
    competency: str
    #: The group (position group, management level or role) whose requirement is the highest.
    required_by: str
    required_level: int
    assessed_level: int | None
    method: str | None
    assessed_on: date | None
    #: required_level − assessed_level: above 0 lacks, 0 meets, below 0 exceeds; null: none.
    gap: int | None
    status: GapStatus


class PersonGaps(BaseModel):
    """A person's required competencies against their latest assessments."""

    pseudonym: str
    as_of: date
    gaps: list[CompetencyGap]


class GapSummary(BaseModel):
    """How many people of an institution's position group meet one requirement."""

    institution: str
    position_group: str | None
    framework: str
    competency: str
    required_level: int
    people: int
    meeting: int
    below: int
    not_assessed: int


class InstitutionGaps(BaseModel):
    """Every current employee's gaps in an institution (or one position group of it)."""

    institution: str
    position_group: str | None
    as_of: date
    people: int
    gaps: list[CompetencyGap]
    summary: list[GapSummary]


class GapSummaries(BaseModel):
    """The summary alone."""

    institution: str
    position_group: str | None
    as_of: date
    summary: list[GapSummary]
