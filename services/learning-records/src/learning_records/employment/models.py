"""Dated employment (institution, sector, position group, roles) and HR headcounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, SourcedRecord


class Employment(SourcedRecord, table=True):
    """A person's employment in one institution from valid_from to valid_to (inclusive)."""

    __tablename__ = "employment"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    institution: str = Field(sa_type=String(32), index=True)
    sector: str = Field(sa_type=String(16))
    municipality: str | None = Field(default=None, sa_type=String(32))
    position_group: str | None = Field(default=None, sa_type=String(64))
    management_level: str | None = Field(default=None, sa_type=String(16))
    civil_servant: bool = False
    valid_from: date
    valid_to: date | None = None
    #: Why the person left at valid_to (a code of the catalog's `leaving_reasons`; whether it
    #: was avoidable is the item's attribute there). None: not a leaving, or not recorded.
    leaving_reason: str | None = Field(default=None, sa_type=String(64))


class RoleAssignment(LearningRecordsModel, table=True):
    """A role (trust person, internal trainer, digital agent…) held during an employment."""

    __tablename__ = "role_assignment"

    id: int | None = Field(default=None, primary_key=True)
    employment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("employment.id", ondelete="CASCADE"), index=True)
    )
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    role: str = Field(sa_type=String(64))
    valid_from: date
    valid_to: date | None = None


class Headcount(SourcedRecord, table=True):
    """How many people an institution employs in a position group or role on a date."""

    __tablename__ = "headcount"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        # Headcount questions read one series at a time: by role, position group, or neither.
        Index("ix_headcount_role_position_group", "role", "position_group"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution: str = Field(sa_type=String(32), index=True)
    sector: str = Field(sa_type=String(16))
    #: None: every position group (the institution's total, or a role's total).
    position_group: str | None = Field(default=None, sa_type=String(64))
    #: None: not limited to a role.
    role: str | None = Field(default=None, sa_type=String(64))
    as_of: date
    headcount: int
