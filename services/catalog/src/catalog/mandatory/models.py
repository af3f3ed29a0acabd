"""Mandatory learning: which courses a role, position group or new employee must complete."""

from __future__ import annotations

from datetime import date, datetime
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


class MandatoryLearning(CatalogModel, table=True):
    """A rule of mandatory learning; its audience and source are kept as validated JSON."""

    __tablename__ = "mandatory_learning"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title_lv: str | None = None
    title_en: str | None = None
    courses: list[str] = Field(default_factory=list, sa_type=JSON)
    audience: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    within_days_of_start: int | None = None
    effective_from: date | None = None
    requires_passed_test: bool = False
    source: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    version: int = 1
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())


class Audience(BaseModel):
    """Who must complete it: a person matching any of the parts (during a current employment)."""

    model_config = ConfigDict(extra="forbid")

    everyone: bool = PydanticField(default=False, description="Every employee")
    civil_servants: bool = PydanticField(default=False, description="Civil servants (ierēdņi)")
    position_groups: list[str] = PydanticField(default=[], max_length=100)
    roles: list[str] = PydanticField(default=[], max_length=100)
    management_levels: list[str] = PydanticField(default=[], max_length=20)

    @model_validator(mode="after")
    def _someone(self) -> Audience:
        if not (
            self.everyone
            or self.civil_servants
            or self.position_groups
            or self.roles
            or self.management_levels
        ):
            raise ValueError("audience: name at least one group (or everyone)")
        return self


class SourceCitation(BaseModel):
    """Where the obligation is written: the document, its place, and its words in Latvian."""

    model_config = ConfigDict(extra="forbid")

    document: str = PydanticField(min_length=1, max_length=300)
    reference: str | None = PydanticField(default=None, max_length=200)
    text_lv: str = PydanticField(min_length=1, max_length=2000)
    note: str | None = PydanticField(default=None, max_length=1000)


class MandatoryLearningFields(BaseModel):
    """A rule's content as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    title: LocalizedText
    courses: list[str] = PydanticField(
        min_length=1, max_length=50, description="Catalog course codes; any one of them counts"
    )
    audience: Audience
    within_days_of_start: int | None = PydanticField(
        default=None,
        ge=1,
        le=3650,
        description="Due this many days after the employment (or role) started; null: at once",
    )
    effective_from: date | None = PydanticField(
        default=None,
        description="Applies only to employments (or roles) starting on or after this date",
    )
    requires_passed_test: bool = PydanticField(
        default=False, description="A completion counts only with a passed knowledge test"
    )
    source: SourceCitation | None = None


class MandatoryLearningCreate(MandatoryLearningFields):
    """A new rule."""

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE)


class MandatoryLearningPublic(BaseModel):
    """A rule as served."""

    code: str
    title: Text
    courses: list[str]
    audience: dict[str, Any]
    within_days_of_start: int | None
    effective_from: date | None
    requires_passed_test: bool
    source: dict[str, Any] | None
    version: int
    archived: bool
    archived_at: datetime | None
    updated_at: datetime
