"""The change log: every write of programmes, courses, institutions and frameworks, versioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field

from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime


class ChangeRecord(CatalogModel, table=True):
    """One change of one resource: what, when, by which API client, and the state after it."""

    __tablename__ = "change_record"
    __table_args__ = (
        UniqueConstraint("entity", "entity_code", "version"),
        Index("ix_change_record_entity_code", "entity", "entity_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=32)
    entity_code: str = Field(max_length=100)
    version: int
    operation: str = Field(max_length=16)
    client_id: str = Field(max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ChangePublic(CatalogModel):
    """A change as served."""

    id: int
    entity: str
    entity_code: str
    version: int
    operation: str
    client_id: str
    at: datetime
    snapshot: dict[str, Any]
