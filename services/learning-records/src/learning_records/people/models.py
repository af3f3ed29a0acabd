"""People: a keyed pseudonym of the personal code, and the HR systems' ids that point at it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, SourcedRecord, utcnow


class Person(LearningRecordsModel, table=True):
    """One person, known only by the pseudonym of their personal code."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PersonLink(SourcedRecord, table=True):
    """A source system's id for a person (e.g. an HR employee number), with a display name.

    The link belongs to its institution like any other record: a restricted client creates
    links only for its institutions and never reads or changes another institution's.
    """

    __tablename__ = "person_link"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    #: The institution whose source system holds this id; None: written by an unrestricted
    #: client (the person register). Only that institution's clients see or change the link.
    institution: str | None = Field(default=None, sa_type=String(32), index=True)
    #: Kept only when an HR system sends it for its own pull.
    display_name: str | None = Field(default=None, sa_type=String(200))
