"""Results of learning: knowledge-test attempts, certificates, feedback, competency assessments."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field

from learning_records.models import SourcedRecord

ASSESSMENT_METHODS = ("self", "manager", "360", "assessment_centre")
FEEDBACK_KINDS = ("immediate", "follow_up")


class TestAttempt(SourcedRecord, table=True):
    """One attempt at a course's knowledge test."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name
    __tablename__ = "test_attempt"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        # The aggregations' test_passed filter looks attempts up by person and course.
        Index("ix_test_attempt_person_id_course_code", "person_id", "course_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE")))
    course_code: str = Field(sa_type=String(64), index=True)
    institution: str | None = Field(default=None, sa_type=String(32))
    attempted_on: date
    score: float | None = None
    max_score: float | None = None
    passed: bool
    #: Set when the attempt came from a learning event (undone with it).
    learning_event_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("learning_event.id", ondelete="CASCADE"), index=True),
    )


class Certificate(SourcedRecord, table=True):
    """A certificate issued for a course; valid until a date; possibly revoked."""

    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    course_code: str = Field(sa_type=String(64), index=True)
    institution: str | None = Field(default=None, sa_type=String(32))
    certificate_number: str | None = Field(default=None, sa_type=String(64))
    issued_on: date
    valid_until: date | None = None
    revoked_on: date | None = None


class Feedback(SourcedRecord, table=True):
    """Immediate feedback after a course or the 6–12-month follow-up on use at work."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    course_code: str = Field(sa_type=String(64), index=True)
    institution: str | None = Field(default=None, sa_type=String(32))
    kind: str = Field(sa_type=String(16))
    submitted_on: date
    #: Overall rating, 1–5.
    rating: int | None = None
    #: Follow-up: does the person use what they learned at work?
    applied_at_work: bool | None = None
    #: Follow-up: share of the learning used at work, 0–100 %.
    applied_share: int | None = None


class CompetencyAssessment(SourcedRecord, table=True):
    """A competency assessed at a level against a framework, by a method, on a date."""

    __tablename__ = "competency_assessment"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    institution: str | None = Field(default=None, sa_type=String(32))
    framework: str = Field(sa_type=String(64))
    competency: str = Field(sa_type=String(64))
    level: int
    method: str = Field(sa_type=String(24))
    assessed_on: date
