"""The copy of the catalog this service keeps: what it needs to check codes and filter by tags.

Every catalog change (course, programme, institution, framework, reference list, mandatory
learning rule) is kept as its
latest snapshot; course tags are also kept one row per tag, for the aggregations' tag filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, String
from sqlmodel import Field

from learning_records.models import LearningRecordsModel

#: The kinds of catalog resource the copy keeps.
ENTITIES = (
    "course",
    "programme",
    "institution",
    "framework",
    "reference_list",
    "mandatory_learning",
)


class CatalogEntry(LearningRecordsModel, table=True):
    """The latest snapshot of one catalog resource, as the catalog's change feed served it."""

    __tablename__ = "catalog_entry"

    entity: str = Field(sa_type=String(32), primary_key=True)
    code: str = Field(sa_type=String(100), primary_key=True)
    #: The resource's version in the catalog.
    version: int
    archived: bool = False
    #: The id of the catalog change this snapshot came from.
    change_id: int = Field(sa_type=BigInteger)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    synced_at: datetime = Field(sa_type=DateTime(timezone=True))


class CatalogCourseTag(LearningRecordsModel, table=True):
    """One tag of a catalog course (`measure:1.1`, `programme:INTEG`…), for tag filters."""

    __tablename__ = "catalog_course_tag"

    tag: str = Field(sa_type=String(120), primary_key=True)
    course_code: str = Field(sa_type=String(100), primary_key=True)


class CatalogSyncState(LearningRecordsModel, table=True):
    """How far the copy has followed the catalog's change feed, and how the last try went."""

    __tablename__ = "catalog_sync_state"

    id: int = Field(primary_key=True)
    #: The id of the last catalog change applied (the catalog's version the copy is at).
    last_change_id: int = Field(default=0, sa_type=BigInteger)
    last_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_success_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    #: Why the last attempt failed (None after a success).
    last_error: str | None = Field(default=None, sa_type=String(500))
