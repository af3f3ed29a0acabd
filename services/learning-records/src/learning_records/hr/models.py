"""Withdrawals for the HR pull: a record that is gone, named by its source id, no personal data."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, utcnow


class HrWithdrawal(LearningRecordsModel, table=True):
    """A completion, certificate or assessment withdrawn (e.g. its person erased).

    It keeps only what an HR system needs to drop its copy: the institution, the kind of
    record and the record's own source id. No person, pseudonym or name.
    """

    __tablename__ = "hr_withdrawal"

    id: int | None = Field(default=None, primary_key=True)
    #: Change-feed sequence number of the withdrawal (the HR pull's cursor).
    seq: int = Field(sa_type=BigInteger, index=True)
    institution: str | None = Field(default=None, sa_type=String(32), index=True)
    #: enrolment | certificate | assessment
    record_type: str = Field(sa_type=String(16))
    record_source_system: str = Field(sa_type=String(64))
    record_external_id: str = Field(sa_type=String(128))
    #: Why: person_erased.
    reason: str = Field(sa_type=String(24))
    withdrawn_on: date
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
