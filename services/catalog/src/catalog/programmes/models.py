"""Learning programmes and the courses in them, linked to the measures and indicators they serve."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field

from catalog.common.i18n import LocalizedText, Text
from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime

CODE = r"^[A-Z0-9][A-Z0-9_.\-]*$"
TAG = r"^[a-z_]+:[^\s]+$|^[a-z0-9_\-]+$"


class _Offering(CatalogModel):
    """Columns a programme and a course share."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title_lv: str
    title_en: str | None = None
    description_lv: str | None = None
    description_en: str | None = None
    format: str = Field(max_length=32, index=True)
    provider: str | None = Field(default=None, max_length=64)
    mandatory: bool = False
    hours: float | None = None
    target_groups: list[str] = Field(default_factory=list, sa_type=JSON)
    measures: list[str] = Field(default_factory=list, sa_type=JSON)
    indicators: list[str] = Field(default_factory=list, sa_type=JSON)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    search_text: str = ""


class Programme(_Offering, table=True):
    """A learning programme (e.g. the top-manager development programme)."""

    __tablename__ = "programme"


class Course(_Offering, table=True):
    """A course, possibly part of a programme, with its knowledge test and pass mark."""

    __tablename__ = "course"

    programme_code: str | None = Field(default=None, max_length=64, index=True)
    knowledge_test: bool = False
    pass_mark: int | None = None


class OfferingTag(CatalogModel, table=True):
    """A tag of a programme or course ("measure:1.1", "programme:INTEG", …), for filtering."""

    __tablename__ = "offering_tag"
    __table_args__ = (
        UniqueConstraint("entity", "entity_code", "tag"),
        Index("ix_offering_tag_entity_tag", "entity", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    entity_code: str = Field(max_length=64)
    tag: str = Field(max_length=120)


Codes = list[str]


class OfferingFields(BaseModel):
    """What a client sets on a programme or a course."""

    model_config = ConfigDict(extra="forbid")

    title: LocalizedText
    description: LocalizedText | None = None
    format: str = PydanticField(
        min_length=1, max_length=32, description="A code of the learning_formats list"
    )
    provider: str | None = PydanticField(
        default=None, max_length=64, description="Code of the providing institution"
    )
    mandatory: bool = False
    hours: float | None = PydanticField(default=None, ge=0, le=10_000)
    target_groups: Codes = PydanticField(
        default=[], max_length=50, description="Codes of roles, participant or position groups"
    )
    measures: Codes = PydanticField(
        default=[], max_length=50, description="Measure codes, e.g. 1.1"
    )
    indicators: Codes = PydanticField(
        default=[], max_length=100, description="Indicator codes, e.g. 1.1.1"
    )
    tags: list[str] = PydanticField(
        default=[], max_length=50, description="Extra tags: a word or prefix:value"
    )

    @model_validator(mode="after")
    def _tags_are_words(self) -> OfferingFields:
        import re

        for index, tag in enumerate(self.tags):
            if len(tag) > 100 or not re.match(TAG, tag):
                raise ValueError(f"tags.{index}: a tag is a word or prefix:value, lower case")
        return self


class ProgrammeCreate(OfferingFields):
    """A new learning programme."""

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE)


class CourseFields(OfferingFields):
    """What a client sets on a course."""

    programme: str | None = PydanticField(default=None, max_length=64)
    knowledge_test: bool = False
    pass_mark: int | None = PydanticField(
        default=None, ge=0, le=100, description="Percent needed to pass the knowledge test"
    )


class CourseCreate(CourseFields):
    """A new course."""

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE)


class OfferingUpdate(BaseModel):
    """A partial change: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: LocalizedText | None = None
    description: LocalizedText | None = None
    format: str | None = PydanticField(default=None, min_length=1, max_length=32)
    provider: str | None = PydanticField(default=None, max_length=64)
    mandatory: bool | None = None
    hours: float | None = PydanticField(default=None, ge=0, le=10_000)
    target_groups: Codes | None = PydanticField(default=None, max_length=50)
    measures: Codes | None = PydanticField(default=None, max_length=50)
    indicators: Codes | None = PydanticField(default=None, max_length=100)
    tags: list[str] | None = PydanticField(default=None, max_length=50)


class ProgrammeUpdate(OfferingUpdate):
    """A partial change of a programme."""


class CourseUpdate(OfferingUpdate):
    """A partial change of a course."""

    programme: str | None = PydanticField(default=None, max_length=64)
    knowledge_test: bool | None = None
    pass_mark: int | None = PydanticField(default=None, ge=0, le=100)


class OfferingPublic(BaseModel):
    """A programme or course as served; `tags` includes the derived ones."""

    code: str
    title: Text
    description: Text | None
    format: str
    provider: str | None
    mandatory: bool
    hours: float | None
    target_groups: list[str]
    measures: list[str]
    indicators: list[str]
    tags: list[str]
    version: int
    archived: bool
    archived_at: datetime | None
    updated_at: datetime


class ProgrammePublic(OfferingPublic):
    """A programme as served, with the codes of its courses."""

    courses: list[str]


class CoursePublic(OfferingPublic):
    """A course as served."""

    programme: str | None
    knowledge_test: bool
    pass_mark: int | None
