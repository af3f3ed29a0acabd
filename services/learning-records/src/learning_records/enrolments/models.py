"""Enrolments, their status history, and the learning events (xAPI) applied to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, SourcedRecord

#: Every status an enrolment can have, in the order they usually come.
STATUSES = ("registered", "attended", "no_show", "cancelled", "completed", "failed")


class Enrolment(SourcedRecord, table=True):
    """A person's enrolment in a course (session or run), with its current status."""

    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        # Aggregations filter by course (tag) and period: on PostgreSQL this index covers every
        # column they read, so they scan only the matching enrolments (index-only scan).
        Index(
            "ix_enrolment_course_code_status_date",
            "course_code",
            "status_date",
            postgresql_include=["person_id", "status", "institution", "hours", "id"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    course_code: str = Field(sa_type=String(64))
    session_code: str | None = Field(default=None, sa_type=String(64))
    #: The institution the person enrolled from (None when the source did not say).
    institution: str | None = Field(default=None, sa_type=String(32), index=True)
    status: str = Field(sa_type=String(16))
    enrolled_on: date | None = None
    #: Date of the current status (the completion date once completed). Not indexed on its
    #: own: a course and period is ix_enrolment_course_code_status_date's, and a period alone
    #: matches too much of the table for an index to pay its cost on every write (rec0008).
    status_date: date
    completed_on: date | None = None
    hours: float | None = None


class EnrolmentStatusChange(LearningRecordsModel, table=True):
    """A status step an enrolment has left (or whose date has since moved), with the date it
    was reached.

    The current step is the enrolment row's own status and status_date; a row is written when
    a write moves them (enrolments/history.py has the rule and the timeline's readers).
    """

    __tablename__ = "enrolment_status_change"

    id: int | None = Field(default=None, primary_key=True)
    enrolment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    )
    status: str = Field(sa_type=String(16))
    status_date: date
    seq: int = Field(sa_type=BigInteger)


class AppliedLearningEvent(SourcedRecord, table=True):
    """One learning event (e.g. an xAPI statement) applied to an enrolment, kept to undo it."""

    __tablename__ = "learning_event"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    enrolment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("enrolment.id", ondelete="CASCADE"), index=True)
    )
    status: str | None = Field(default=None, sa_type=String(16))
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    hours: float | None = None
    score: float | None = None
    passed: bool | None = None
    #: Whether applying this event created the enrolment.
    created_enrolment: bool = False
    #: The enrolment's status, status_date, completed_on and hours before this event.
    prior_state: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))


class CourseTag(SourcedRecord, table=True):
    """A programme tag of a course (e.g. `measure:1.1`), pushed from the catalog for filters."""

    __tablename__ = "course_tag"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    course_code: str = Field(sa_type=String(64), index=True)
    tag: str = Field(sa_type=String(64), index=True)
