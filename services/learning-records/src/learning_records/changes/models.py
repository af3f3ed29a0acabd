"""The change feed: one row per accepted write, numbered without gaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, String
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, utcnow


class ChangeCounter(LearningRecordsModel, table=True):
    """The single row holding the last sequence number handed out; writers lock it."""

    __tablename__ = "change_counter"

    id: int = Field(primary_key=True)
    last_seq: int = Field(default=0, sa_type=BigInteger)


class Change(LearningRecordsModel, table=True):
    """One accepted write: which entity, which operation, the record's internal id."""

    __tablename__ = "change"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    entity: str = Field(sa_type=String(32))
    op: str = Field(sa_type=String(16))
    #: The record's internal id (never personal data).
    key: str = Field(sa_type=String(64))
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
