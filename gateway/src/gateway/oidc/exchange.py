"""RFC 8693 token exchange: an identity provider's ID or access token for a gateway token.

The browser app signs the user in at the provider itself (authorization code + PKCE, as a public
client) and sends the provider's token here with
`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`. The gateway verifies it (the
provider by exact `iss`, RS256 with a key from the provider's JWKS, an accepted `aud`, exp and
iat required), maps its claims to scopes and institutions (gateway.oidc.providers), and issues
its own short-lived token for the provider's registered API client, so deactivating that client
or revoking its tokens cuts every such sign-in off as for any client. Every issued token is
logged with the provider's subject (OidcSignIn); a subject that looks like a personal code is
refused rather than stored.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from gateway.clients.directory import ClientDirectory
from gateway.keys import KeyStore
from gateway.oidc.issuers import Issuer, Issuers
from gateway.oidc.models import OidcSignIn
from gateway.oidc.providers import map_claims
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.tokens.service import OAuthError
from pilnveide_kit.auth import unverified_issuer, verified_claims
from pilnveide_kit.db import session_scope
from pilnveide_kit.errors import Unauthorized
from pilnveide_kit.revocations import ClientDeactivated, TokenRevoked
from pilnveide_kit.signing import IssuedToken

# RFC 8693 identifiers, not secrets.
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
#: OpenID Connect Core §2: sub is at most 255 ASCII characters (and so is the log's column).
MAX_SUBJECT = 255
SUBJECT_TOKEN_TYPES = frozenset({ID_TOKEN_TYPE, ACCESS_TOKEN_TYPE, JWT_TYPE})

#: A Latvian personal code (ddmmyy-nnnnn, the new 32xxxx-xxxxx form too), with or without
#: the hyphen, anywhere in a subject.
PERSONAL_CODE = re.compile(r"(?<!\d)\d{6}-?\d{5}(?!\d)")


def _refused(description: str) -> OAuthError:
    # RFC 8693 §2.2.2: an invalid or unacceptable subject_token answers invalid_request.
    return OAuthError(400, "invalid_request", description)


def _issuer_of(issuers: Issuers, token: str) -> Issuer:
    name = unverified_issuer(token)
    if name is None:
        raise _refused("The subject_token is not a JWT with an issuer")
    issuer = issuers.find(name)
    if issuer is None:
        raise _refused("The subject_token's issuer is not a configured identity provider")
    return issuer


def exchange(
    *,
    subject_token: str | None,
    subject_token_type: str | None,
    requested_scope: str | None,
    issuers: Issuers,
    directory: ClientDirectory,
    keys: KeyStore,
    settings: GatewaySettings,
    rate_limiter: RateLimiter,
) -> tuple[IssuedToken, list[str]]:
    """A gateway token and its scopes for a provider's token (blocking: discovery, JWKS, DB).

    OAuthError for every refusal: 400 invalid_request (no, unknown or invalid token; an
    unmapped user), 400 invalid_scope, 401 invalid_client (the provider's API client is
    deactivated), 503 temporarily_unavailable (the provider cannot be reached); RateLimited
    (429 problem) over the client's rate limit.
    """
    if not issuers:
        raise OAuthError(
            400, "unsupported_grant_type", "No identity provider is configured for token exchange"
        )
    if not subject_token:
        raise _refused("subject_token is required")
    if subject_token_type not in SUBJECT_TOKEN_TYPES:
        accepted = " ".join(sorted(SUBJECT_TOKEN_TYPES))
        raise _refused(f"subject_token_type must be one of: {accepted}")
    issuer = _issuer_of(issuers, subject_token)
    provider = issuer.provider
    issuer.prepare()
    try:
        claims = verified_claims(
            subject_token,
            issuer.keys,
            issuer=provider.issuer,
            audiences=provider.accepted_audiences,
            leeway_s=settings.auth_leeway_s,
        )
    except Unauthorized as exc:
        raise _refused(f"The subject_token is not valid: {exc.detail}") from exc
    subject = str(claims.get(provider.subject_claim) or "")
    if not subject or len(subject) > MAX_SUBJECT:
        raise _refused(
            f"The subject_token has no {provider.subject_claim} claim of at most "
            f"{MAX_SUBJECT} characters"
        )
    if PERSONAL_CODE.search(subject):
        raise _refused(
            "The provider names the user by a personal code; configure it to send an opaque "
            "subject (pairwise or a UUID), which is what the gateway logs"
        )
    grant = map_claims(provider.rules, claims)
    if grant is None:
        raise _refused("The user is not mapped to any scope: ask an administrator for access")
    scopes = _requested(grant.scopes, requested_scope)
    status = directory.status(provider.gateway_client)
    try:
        status.revocation.check(time.time())
    except (ClientDeactivated, TokenRevoked) as exc:
        raise OAuthError(
            401, "invalid_client", f"Sign-in through {provider.name!r} is deactivated"
        ) from exc
    # Exchanges count against the provider's client like its tokens' requests (429).
    rate_limiter.check(f"client:{provider.gateway_client}", status.limits)
    lifetime = _lifetime(settings.oidc_token_lifetime_s, claims)
    issued = keys.signer().issue(
        provider.gateway_client,
        scopes,
        institutions=grant.institutions,
        lifetime_s=lifetime,
        revoked_before=status.revocation.not_before,
        extra_claims={"idp": provider.name, "idp_sub": subject},
    )
    _log_sign_in(directory, provider.name, subject, issued)
    return issued, scopes


def _requested(granted: frozenset[str], requested: str | None) -> list[str]:
    if not requested or not requested.strip():
        return sorted(granted)
    asked = set(requested.split())
    beyond = sorted(asked - granted)
    if beyond:
        raise OAuthError(400, "invalid_scope", f"The user may not ask for: {' '.join(beyond)}")
    return sorted(asked)


def _lifetime(configured: int, claims: dict[str, Any]) -> int:
    """The gateway token never outlives the provider's token (its exp is already checked)."""
    remaining = int(float(claims["exp"]) - time.time())
    return max(1, min(configured, remaining))


def _log_sign_in(
    directory: ClientDirectory, provider: str, subject: str, issued: IssuedToken
) -> None:
    claims = issued.claims
    with session_scope(directory.engine) as session:
        session.add(
            OidcSignIn(
                at=datetime.fromtimestamp(claims["nbf"], UTC),
                provider=provider,
                subject=subject,
                client_id=claims["sub"],
                token_id=claims["jti"],
                scopes=claims["scope"].split(),
                institutions=claims.get("institutions"),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        )
