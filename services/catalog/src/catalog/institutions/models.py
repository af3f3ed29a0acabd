"""Institutions: ministries, subordinate institutions, municipalities, universities, groups."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field

from catalog.common.i18n import LocalizedText, Text
from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime


class InstitutionKind(StrEnum):
    """What an institution is."""

    ministry = "ministry"
    subordinate = "subordinate"
    municipality = "municipality"
    university = "university"
    group = "group"
    other = "other"


class Sector(StrEnum):
    """State administration, municipalities, or other."""

    state = "state"
    municipal = "municipal"
    other = "other"


class Institution(CatalogModel, table=True):
    """An institution of the registry; `parent_code` is the ministry whose resort it belongs to."""

    __tablename__ = "institution"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name_lv: str
    name_en: str | None = None
    kind: str = Field(max_length=16, index=True)
    sector: str = Field(max_length=16, index=True)
    parent_code: str | None = Field(default=None, max_length=64, index=True)
    version: int = 1
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    search_text: str = ""


CODE_PATTERN = r"^[A-Za-z0-9ĀČĒĢĪĶĻŅŠŪŽāčēģīķļņšūž_.\-]+$"


class InstitutionBase(BaseModel):
    """The fields a client sets."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedText
    kind: InstitutionKind
    sector: Sector
    parent: str | None = PydanticField(
        default=None, max_length=64, description="Code of the ministry whose resort it is in"
    )


class InstitutionCreate(InstitutionBase):
    """A new institution."""

    code: str = PydanticField(min_length=1, max_length=64, pattern=CODE_PATTERN)


class InstitutionUpdate(BaseModel):
    """A partial change of an institution (only the fields given change)."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedText | None = None
    kind: InstitutionKind | None = None
    sector: Sector | None = None
    parent: str | None = PydanticField(default=None, max_length=64)


class InstitutionBulk(BaseModel):
    """Institutions to create or update by code, e.g. the full registry of state institutions."""

    model_config = ConfigDict(extra="forbid")

    institutions: list[InstitutionCreate] = PydanticField(min_length=1, max_length=5000)


class BulkResult(BaseModel):
    """How many institutions a bulk upsert created, changed, or found already as sent."""

    created: int
    updated: int
    unchanged: int


class InstitutionPublic(BaseModel):
    """An institution as served."""

    code: str
    name: Text
    kind: str
    sector: str
    parent: str | None
    version: int
    archived: bool
    archived_at: datetime | None
    updated_at: datetime
