"""Work e-mail addresses of people, kept only as xAPI `mbox_sha1sum` values."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, utcnow


class PersonMailbox(LearningRecordsModel, table=True):
    """A person's work mailbox at an institution, as the SHA-1 of its `mailto:` IRI (the xAPI
    `mbox_sha1sum`); the address itself is never stored. Registered by the institution's HR
    system; an LMS statement naming the mailbox (`mbox` or `mbox_sha1sum`) names the person.
    Each institution has its own registrations: only its HR system changes them and only
    statements for that institution resolve through them."""

    __tablename__ = "person_mailbox"
    __table_args__ = (UniqueConstraint("institution", "mbox_sha1sum"),)

    id: int | None = Field(default=None, primary_key=True)
    #: 40 lower-case hex: SHA-1 of "mailto:" + the lower-cased address.
    mbox_sha1sum: str = Field(sa_type=String(40), index=True)
    institution: str = Field(sa_type=String(32), index=True)
    person_id: int = Field(
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
    )
    source_system: str = Field(sa_type=String(64))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
