"""Reference lists shared by every service: position groups, management levels, participant
groups, roles and learning formats."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from catalog.common.i18n import Text
from catalog.models import CatalogModel


class ReferenceList(CatalogModel, table=True):
    """A named list of codes (e.g. roles)."""

    __tablename__ = "reference_list"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title_lv: str
    title_en: str | None = None


class ReferenceItem(CatalogModel, table=True):
    """One code of a reference list, with its names and attributes."""

    __tablename__ = "reference_item"
    __table_args__ = (UniqueConstraint("list_code", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    list_code: str = Field(max_length=64, index=True)
    code: str = Field(max_length=64)
    name_lv: str
    name_en: str | None = None
    position: int = 0
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ReferenceItemPublic(BaseModel):
    """A code as served."""

    code: str
    name: Text
    attributes: dict[str, Any]


class ReferenceListPublic(BaseModel):
    """A reference list with its codes."""

    code: str
    title: Text
    items: list[ReferenceItemPublic]
