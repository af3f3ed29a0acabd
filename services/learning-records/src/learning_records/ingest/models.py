"""Stored Idempotency-Key outcomes: a replay with the same key and body gets the same answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, Text
from sqlmodel import Field

from learning_records.models import LearningRecordsModel, utcnow


class IdempotencyRecord(LearningRecordsModel, table=True):
    """A request's Idempotency-Key (per API client), its body's keyed hash and its response."""

    __tablename__ = "idempotency_record"

    client_id: str = Field(sa_type=String(128), primary_key=True)
    key: str = Field(sa_type=String(200), primary_key=True)
    #: Route the key was used on: the same key on another route is another request.
    route: str = Field(sa_type=String(128))
    #: HMAC of the body with the pseudonym pepper (a plain hash of a small body could be
    #: brute-forced back to the personal code inside it).
    request_hash: str = Field(sa_type=String(64))
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), index=True
    )
