"""Competency frameworks: competencies as a tree, proficiency levels, required levels per group."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON
from sqlmodel import Field

from catalog.common.i18n import LocalizedText, Text
from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Framework(CatalogModel, table=True):
    """A competency framework; its tree, levels and requirements are kept as validated JSON."""

    __tablename__ = "framework"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title_lv: str | None = None
    title_en: str | None = None
    description: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    publisher: str | None = Field(default=None, max_length=200)
    version_label: str | None = Field(default=None, max_length=64)
    source_url: str | None = Field(default=None, max_length=500)
    levels: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    competencies: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    requirements: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    search_text: str = ""


class ProficiencyLevel(BaseModel):
    """One proficiency level (DigComp 2.2 has eight)."""

    model_config = ConfigDict(extra="forbid")

    level: int = PydanticField(ge=0, le=20)
    title: LocalizedText
    description: LocalizedText | None = None


class Competency(BaseModel):
    """A competency (or an area grouping competencies) and its children."""

    model_config = ConfigDict(extra="forbid")

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE)
    kind: str = PydanticField(default="competence", min_length=1, max_length=40)
    title: LocalizedText
    description: LocalizedText | None = None
    children: list[Competency] = PydanticField(default=[], max_length=200)


class Requirement(BaseModel):
    """The level a position group (or role, management level) requires in a competency."""

    model_config = ConfigDict(extra="forbid")

    position_group: str = PydanticField(min_length=1, max_length=64)
    competency: str | None = PydanticField(
        default=None, max_length=64, description="A competency code; null: every competency"
    )
    level: int = PydanticField(ge=0, le=20)


def walk(nodes: list[Competency]) -> list[Competency]:
    """Every competency of a tree, depth first."""
    out: list[Competency] = []
    for node in nodes:
        out.append(node)
        out.extend(walk(node.children))
    return out


class FrameworkFields(BaseModel):
    """A framework's content as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    title: LocalizedText
    description: LocalizedText | None = None
    publisher: str | None = PydanticField(default=None, max_length=200)
    version_label: str | None = PydanticField(default=None, max_length=64)
    source_url: str | None = PydanticField(default=None, max_length=500)
    levels: list[ProficiencyLevel] = PydanticField(min_length=1, max_length=20)
    competencies: list[Competency] = PydanticField(min_length=1, max_length=200)
    requirements: list[Requirement] = PydanticField(default=[], max_length=5000)

    @model_validator(mode="after")
    def _consistent(self) -> FrameworkFields:
        codes = [c.code for c in walk(self.competencies)]
        if len(codes) != len(set(codes)):
            raise ValueError("competencies: a code appears twice in the tree")
        if len(codes) > 2000:
            raise ValueError("competencies: at most 2000 in a framework")
        levels = [lv.level for lv in self.levels]
        if len(levels) != len(set(levels)):
            raise ValueError("levels: a level number appears twice")
        for index, req in enumerate(self.requirements):
            if req.competency is not None and req.competency not in codes:
                raise ValueError(f"requirements.{index}.competency: unknown {req.competency!r}")
            if req.level not in levels:
                raise ValueError(f"requirements.{index}.level: not one of the levels")
        return self


class RequirementsReplace(BaseModel):
    """A framework's required levels per position group, replaced as a whole."""

    model_config = ConfigDict(extra="forbid")

    requirements: list[Requirement] = PydanticField(max_length=5000)


class FrameworkCreate(FrameworkFields):
    """A new framework (the JSON import)."""

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE)


class FrameworkPublic(BaseModel):
    """A framework as served."""

    code: str
    title: Text
    description: Text | None
    publisher: str | None
    version_label: str | None
    source_url: str | None
    levels: list[dict[str, Any]]
    competencies: list[dict[str, Any]]
    requirements: list[dict[str, Any]]
    version: int
    archived: bool
    archived_at: datetime | None
    updated_at: datetime


class FrameworkSummary(BaseModel):
    """A framework in a list."""

    code: str
    title: Text
    publisher: str | None
    version_label: str | None
    levels: int
    competencies: int
    version: int
    archived: bool
