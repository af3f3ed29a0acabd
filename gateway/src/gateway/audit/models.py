"""The audit log: who wrote anything, or read personal data, when, what, with which request id."""

from __future__ import annotations

from datetime import datetime

import pydantic
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, DateTime, Integer
from sqlmodel import Field

from gateway.models import GatewayModel


class AuditEntry(GatewayModel, table=True):
    """One audited request. Never holds a request body or query string (they may be personal)."""

    __tablename__ = "audit_entry"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    client_id: str | None = Field(default=None, max_length=64, index=True)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2048)
    status: int
    request_id: str | None = Field(default=None, max_length=128)
    #: The token's jti: joins the entry to the person's sign-in (oidc_sign_in.token_id).
    token_id: str | None = Field(default=None, max_length=64, index=True)


class SignedIn(BaseModel):
    """The person behind a token from a sign-in (token exchange): provider and subject."""

    provider: str
    subject: str


class AuditEntryPublic(BaseModel):
    """An audit entry as the admin API shows it."""

    id: int
    at: datetime
    client_id: str | None
    method: str
    path: str
    status: int
    request_id: str | None
    token_id: str | None = None
    signed_in: SignedIn | None = pydantic.Field(
        default=None,
        description="Who signed in through an identity provider to get the token; null for a "
        "client's own token",
    )
