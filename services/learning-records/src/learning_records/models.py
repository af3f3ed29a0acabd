"""The learning-records service's own SQLModel base and metadata (no other service shares them)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlmodel import Field, SQLModel

from pilnveide_kit.db import new_registry


class LearningRecordsModel(SQLModel, registry=new_registry()):
    """Base of every table of this service."""


metadata = LearningRecordsModel.metadata


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands them back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SourcedRecord(LearningRecordsModel):
    """Columns every written record has: its source id, content hash and change sequence."""

    source_system: str = Field(sa_type=String(64), description="System the item came from")
    external_id: str = Field(sa_type=String(128), description="The item's id in that system")
    #: SHA-256 of the item's canonical content (after pseudonymisation): replays compare it.
    content_hash: str = Field(sa_type=String(64))
    #: Change-feed sequence number of the last accepted write of this record.
    seq: int = Field(sa_type=BigInteger, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


def load_all_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    from learning_records.changes import models as _changes  # noqa: F401
    from learning_records.employment import models as _employment  # noqa: F401
    from learning_records.enrolments import models as _enrolments  # noqa: F401
    from learning_records.hr import models as _hr  # noqa: F401
    from learning_records.ingest import models as _ingest  # noqa: F401
    from learning_records.mailboxes import models as _mailboxes  # noqa: F401
    from learning_records.people import models as _people  # noqa: F401
    from learning_records.reference import models as _reference  # noqa: F401
    from learning_records.results import models as _results  # noqa: F401
    from learning_records.xapi import models as _xapi  # noqa: F401
