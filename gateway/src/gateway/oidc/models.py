"""The sign-in log: who signed in through which identity provider, and what they were given."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer
from sqlmodel import Field

from gateway.models import GatewayModel


class OidcSignIn(GatewayModel, table=True):
    """One token exchange that issued a gateway token (refusals are in the audit log).

    `subject` is the provider's subject identifier (opaque: a sign-in whose subject looks like
    a personal code is refused, so none is ever stored)."""

    __tablename__ = "oidc_sign_in"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    provider: str = Field(max_length=32)
    subject: str = Field(max_length=255, index=True)
    client_id: str = Field(max_length=64)
    token_id: str = Field(max_length=64, index=True)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    #: None: unrestricted.
    institutions: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OidcSignInPublic(BaseModel):
    """A sign-in as the admin API shows it."""

    id: int
    at: datetime
    provider: str
    subject: str = Field(description="The provider's subject identifier (opaque)")
    client_id: str = Field(description="The provider's gateway client, the token's sub")
    token_id: str = Field(description="The issued token's jti")
    scopes: list[str]
    institutions: list[str] | None = Field(description="None: unrestricted")
    expires_at: datetime
