"""API clients: who may call Pilnveide, with which scopes, over which institutions."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, DateTime, Integer
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
    #: The client's own token bucket (both null: the gateway's GATEWAY_RATE_LIMIT_* defaults).
    rate_limit_per_s: float | None = Field(default=None)
    rate_limit_burst: int | None = Field(default=None)
    #: Raised by every change; the ETag is "v<version>" (If-Match on PATCH).
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class RateLimit(BaseModel):
    """A client's own token bucket: sustained requests per second, and the burst it may save up."""

    model_config = ConfigDict(extra="forbid")

    per_s: float = PydanticField(gt=0, le=1_000_000, description="Sustained requests per second")
    burst: int = PydanticField(ge=1, le=1_000_000, description="Requests it may send at once")


def check_restriction(
    scopes: list[str], institutions: list[str] | None, resort: str | None
) -> None:
    """ValueError when a client's restriction and scopes do not go together."""
    if institutions is not None and resort is not None:
        raise ValueError("give institutions or resort, not both")
    restricted = institutions is not None or resort is not None
    if restricted and UNRESTRICTED_ONLY_SCOPES & set(scopes):
        raise ValueError(
            "records:erase is the data-protection officer's scope: it erases every "
            "institution's records, so a client restricted to institutions cannot hold it"
        )


def _check_codes(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    bad = [c for c in codes if not re.match(INSTITUTION_CODE_PATTERN, c)]
    if bad:
        raise ValueError(f"not institution codes: {bad[:5]}")
    return sorted(set(codes))


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

    rate_limit: RateLimit | None = PydanticField(
        default=None,
        description="The client's own rate limit (absent: the gateway's default for every client)",
    )

    @field_validator("institutions")
    @classmethod
    def _codes(cls, codes: list[str] | None) -> list[str] | None:
        return _check_codes(codes)

    @model_validator(mode="after")
    def _one_restriction(self) -> ApiClientCreate:
        check_restriction(self.scopes, self.institutions, self.resort)
        return self


class ApiClientUpdate(BaseModel):
    """The fields to change (JSON merge patch style: a field absent stays as it is; null clears
    institutions, resort or rate_limit). The result must still be a valid client."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(default=None, min_length=1, max_length=200)
    scopes: list[str] | None = PydanticField(
        default=None, min_length=1, description="The scopes the client may ask for from now on"
    )
    institutions: list[str] | None = PydanticField(
        default=None,
        min_length=1,
        max_length=500,
        description="Restrict to these institution codes (null: no such restriction)",
    )
    resort: str | None = PydanticField(
        default=None,
        pattern=INSTITUTION_CODE_PATTERN,
        description="Restrict to a ministry's resort (null: no such restriction)",
    )
    rate_limit: RateLimit | None = PydanticField(
        default=None, description="The client's own rate limit (null: the gateway's default)"
    )

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str] | None) -> list[str] | None:
        return None if scopes is None else _check_scopes(scopes)

    @field_validator("institutions")
    @classmethod
    def _codes(cls, codes: list[str] | None) -> list[str] | None:
        return _check_codes(codes)

    @model_validator(mode="after")
    def _not_null(self) -> ApiClientUpdate:
        for name in ("name", "scopes"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
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
    rate_limit: RateLimit | None = PydanticField(
        default=None, description="The client's own rate limit (null: the gateway's default)"
    )
    version: int = PydanticField(
        default=1, description='Raised by every change; the ETag is "v<version>"'
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
            rate_limit=limit_of(client),
            version=client.version,
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


def limit_of(client: ApiClient) -> RateLimit | None:
    """A stored client's own rate limit, if it has one."""
    if client.rate_limit_per_s is None or client.rate_limit_burst is None:
        return None
    return RateLimit(per_s=client.rate_limit_per_s, burst=client.rate_limit_burst)


def etag(client: ApiClient) -> str:
    """The strong ETag of a client's current version."""
    return f'"v{client.version}"'
