"""API clients: who may call Pilnveide, with which scopes, over which institutions."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field

from gateway.models import GatewayModel, as_utc
from pilnveide_kit.auth import SCOPES

CLIENT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
INSTITUTION_CODE_PATTERN = r"^[A-Za-z0-9ĀČĒĢĪĶĻŅŠŪŽāčēģīķļņšūž._-]{1,32}$"
#: Scopes only an unrestricted client may hold or receive (they act on every institution).
UNRESTRICTED_ONLY_SCOPES = frozenset({"records:erase"})


class ApiClient(GatewayModel, table=True):
    """A registered API client. Secrets are kept only as Argon2id hashes."""

    __tablename__ = "api_client"

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    #: Restriction to some institutions (codes), or to a whole resort (its ministry's code);
    #: both null: unrestricted.
    institutions: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    resort: str | None = Field(default=None, max_length=32)
    active: bool = True
    secret_hash: str = Field(max_length=255)
    #: During a rotation the previous secret stays valid until previous_secret_expires_at.
    previous_secret_hash: str | None = Field(default=None, max_length=255)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    secret_rotated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    #: Tokens issued (iat) before this instant are refused everywhere: set on deactivation and
    #: when a secret rotation ends the old secret at once. Whole seconds, like iat.
    tokens_not_before: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {sorted(SCOPES)}")
    return sorted(set(scopes))


class ApiClientCreate(BaseModel):
    """A client to register; its secret is generated and shown once in the answer."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = PydanticField(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="Lower-case id (3-64 of a-z 0-9 . _ -); generated when absent",
    )
    name: str = PydanticField(min_length=1, max_length=200)
    scopes: list[str] = PydanticField(min_length=1, description="Scopes the client may ask for")
    institutions: list[str] | None = PydanticField(
        default=None,
        min_length=1,
        max_length=500,
        description="Restrict to these institution codes (absent: not restricted this way)",
    )
    resort: str | None = PydanticField(
        default=None,
        pattern=INSTITUTION_CODE_PATTERN,
        description="Restrict to a ministry and every institution of its resort",
    )

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str]) -> list[str]:
        return _check_scopes(scopes)

    @field_validator("institutions")
    @classmethod
    def _codes(cls, codes: list[str] | None) -> list[str] | None:
        if codes is None:
            return None
        bad = [c for c in codes if not re.match(INSTITUTION_CODE_PATTERN, c)]
        if bad:
            raise ValueError(f"not institution codes: {bad[:5]}")
        return sorted(set(codes))

    @model_validator(mode="after")
    def _one_restriction(self) -> ApiClientCreate:
        if self.institutions is not None and self.resort is not None:
            raise ValueError("give institutions or resort, not both")
        restricted = self.institutions is not None or self.resort is not None
        if restricted and UNRESTRICTED_ONLY_SCOPES & set(self.scopes):
            raise ValueError(
                "records:erase is the data-protection officer's scope: it erases every "
                "institution's records, so a client restricted to institutions cannot hold it"
            )
        return self


class ApiClientPublic(BaseModel):
    """A registered client as the admin API shows it (never its secret or hash)."""

    client_id: str
    name: str
    scopes: list[str]
    institutions: list[str] | None
    resort: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    last_used_at: datetime | None
    tokens_not_before: datetime | None = PydanticField(
        default=None, description="Tokens issued before this instant are refused everywhere"
    )

    @classmethod
    def of(cls, client: ApiClient) -> ApiClientPublic:
        """The public view of a stored client."""
        return cls(
            client_id=client.client_id,
            name=client.name,
            scopes=list(client.scopes),
            institutions=list(client.institutions) if client.institutions is not None else None,
            resort=client.resort,
            active=client.active,
            created_at=as_utc(client.created_at),
            updated_at=as_utc(client.updated_at),
            secret_rotated_at=as_utc(client.secret_rotated_at),
            previous_secret_expires_at=as_utc(client.previous_secret_expires_at),
            last_used_at=as_utc(client.last_used_at),
            tokens_not_before=as_utc(client.tokens_not_before),
        )


class ApiClientWithSecret(ApiClientPublic):
    """A client with its new secret: shown only in this answer, store it now."""

    client_secret: str


class SecretRotation(BaseModel):
    """How long the previous secret keeps working after the rotation."""

    model_config = ConfigDict(extra="forbid")

    previous_valid_for_s: int | None = PydanticField(
        default=None,
        ge=0,
        le=30 * 86_400,
        description="Seconds the old secret stays valid (default: the gateway's setting)",
    )
