"""Identity providers the gateway trusts for people's sign-in, and how their claims map.

Plain pydantic models (the setting GATEWAY_OIDC_PROVIDERS is a JSON list of OidcProvider) and
the mapping itself: which scopes and institutions a verified ID or access token's claims earn.
A user no rule matches earns nothing, so gets no token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from gateway.clients.models import UNRESTRICTED_ONLY_SCOPES
from pilnveide_kit.auth import SCOPES


class ClaimRule(BaseModel):
    """One line of the mapping: when the user's `claim` holds `value`, grant these scopes and
    institutions. A claim may be a string or a list of strings (groups, roles)."""

    claim: str = Field(min_length=1, description="Claim name, e.g. groups, roles, institution")
    value: str | None = Field(
        default=None,
        description="The value the claim must equal or contain; None: any non-empty value "
        "(with institutions_from_claim)",
    )
    scopes: list[str] = Field(default_factory=list)
    #: Institution codes the rule grants.
    institutions: list[str] = Field(default_factory=list)
    #: The claim's own value(s) are institution codes (e.g. an `institution` claim).
    institutions_from_claim: bool = False
    #: The rule grants every institution (a central analyst); never given by default.
    unrestricted: bool = False

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}")
        return scopes

    @model_validator(mode="after")
    def _consistent(self) -> ClaimRule:
        if self.value is None and not self.institutions_from_claim:
            raise ValueError("a rule without a value must take institutions_from_claim")
        if self.unrestricted and (self.institutions or self.institutions_from_claim):
            raise ValueError("an unrestricted rule names no institutions")
        return self

    def matches(self, claims: dict[str, Any]) -> list[str] | None:
        """The claim's values when the rule applies to these claims, else None."""
        values = claim_values(claims.get(self.claim))
        if not values:
            return None
        if self.value is not None and self.value not in values:
            return None
        return values


class OidcProvider(BaseModel):
    """An OpenID Connect identity provider (a Keycloak realm, Entra ID tenant, ...)."""

    name: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short name"
    )
    issuer: str = Field(
        description="Exactly the iss of its tokens; discovery is read from "
        "<issuer>/.well-known/openid-configuration"
    )
    #: The browser app's client id at the provider (the aud of its ID tokens).
    client_id: str = Field(min_length=1)
    #: Further accepted aud values (e.g. an access token's API audience).
    audiences: list[str] = Field(default_factory=list)
    #: The registered API client (gateway registry) the issued tokens belong to: deactivating
    #: it or revoking its tokens cuts off every sign-in through this provider; its rate limit
    #: applies.
    gateway_client: str = Field(min_length=1, max_length=64)
    #: The claim naming the person (audited; must not be a personal code).
    subject_claim: str = "sub"
    rules: list[ClaimRule] = Field(default_factory=list)

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, issuer: str) -> str:
        if not issuer.startswith(("https://", "http://")):
            raise ValueError("the issuer is an http(s) URL")
        return issuer

    @property
    def accepted_audiences(self) -> list[str]:
        """Every aud value accepted: the client id and the further audiences."""
        return [self.client_id, *self.audiences]


def claim_values(value: Any) -> list[str]:
    """A claim as a list of strings (a string, a list of strings; anything else: none)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int) and str(v)]
    return []


@dataclass(frozen=True)
class Grant:
    """What a signed-in user earned: scopes, and institutions (None: unrestricted)."""

    scopes: frozenset[str]
    institutions: frozenset[str] | None


def map_claims(rules: Iterable[ClaimRule], claims: dict[str, Any]) -> Grant | None:
    """The grant of the rules that match; None when none does or they grant no scope.

    Scopes and institutions are the union of the matching rules'; an unrestricted rule makes
    the user unrestricted. A restricted user never receives records:erase.
    """
    scopes: set[str] = set()
    institutions: set[str] = set()
    unrestricted = False
    for rule in rules:
        values = rule.matches(claims)
        if values is None:
            continue
        scopes.update(rule.scopes)
        institutions.update(rule.institutions)
        if rule.institutions_from_claim:
            institutions.update(values)
        unrestricted = unrestricted or rule.unrestricted
    if not unrestricted:
        scopes -= UNRESTRICTED_ONLY_SCOPES
    if not scopes:
        return None
    return Grant(frozenset(scopes), None if unrestricted else frozenset(institutions))
