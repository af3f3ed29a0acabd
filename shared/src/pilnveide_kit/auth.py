"""Access tokens verified (every service and the gateway) and scopes checked.

With `pilnveide_kit.signing` (the gateway signs tokens) and `pilnveide_kit.jws` (signed xAPI
statements), the only modules that use the JOSE library, so a change of library touches three
files. Accepted algorithms are pinned to RS256; the key is chosen by the token's kid among the
gateway's published public keys (a JWKS), never from anything else in the unverified header.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from jose import JWTError, jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError

from pilnveide_kit.errors import Forbidden, Unauthorized
from pilnveide_kit.revocations import RevocationList, RevocationSource

ALGORITHMS = ["RS256"]

#: Every scope the system knows, with what it allows (shown in the OpenAPI documents).
SCOPES: dict[str, str] = {
    "catalog:read": "Read the plan, courses, institutions and frameworks",
    "catalog:write": "Change programmes, courses, institutions and frameworks",
    "records:read": "Read learning records and personal data (institution-scoped)",
    "records:write": "Write people, employment, headcounts and learning records",
    "records:erase": "Erase people and delete old records",
    "indicators:read": "Read indicator results",
    "indicators:write": "Change indicator definitions and enter observations",
    "xapi:read": "Read xAPI statements and documents",
    "xapi:write": "Write xAPI statements and documents",
    "xapi:mappings": "Manage the client's own xAPI activity → course mappings, re-apply them to "
    "its statements and read its statements' mapping outcomes",
    "admin": "Administer API clients; explain views",
}

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/auth/token", scopes=SCOPES)
    ),
    scheme_name="OAuth2ClientCredentials",
    description="OAuth2 client credentials (RFC 6749 §4.4) at the gateway's /auth/token",
    auto_error=False,
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API client, its scopes and its institution restriction."""

    client_id: str
    scopes: frozenset[str]
    #: None means unrestricted; otherwise the only institution codes it may see.
    institutions: frozenset[str] | None = None
    token_id: str | None = None
    #: The token's iat (epoch seconds), compared with the client's revocation instant.
    issued_at: float | None = None

    @property
    def restricted(self) -> bool:
        """True when the client may see only some institutions."""
        return self.institutions is not None

    def can_see(self, institution: str | None) -> bool:
        """Whether data of this institution is visible to the caller."""
        return self.institutions is None or (
            institution is not None and institution in self.institutions
        )

    def has(self, scope: str) -> bool:
        """Whether the token carries a scope (admin carries all)."""
        return scope in self.scopes or "admin" in self.scopes


class KeySet:
    """The gateway's public keys by kid (inline JSON, a file, a URL or a loader), reloaded on a
    new kid: at once when the file changed, otherwise at most every min_reload_interval_s."""

    def __init__(
        self,
        *,
        jwks_json: str | None = None,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        loader: Callable[[], dict[str, Any]] | None = None,
        min_reload_interval_s: float = 10.0,
    ) -> None:
        self._jwks_json = jwks_json
        self._jwks_file = jwks_file
        self._jwks_url = jwks_url
        self._loader = loader
        self._min_reload = min_reload_interval_s
        self._keys: dict[str, dict[str, Any]] = {}
        self._loaded_at = 0.0
        self._file_stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int] | None:
        if self._jwks_json or self._loader or self._jwks_file is None:
            return None
        try:
            stat = self._jwks_file.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _read(self) -> dict[str, Any]:
        if self._loader is not None:
            return dict(self._loader())
        if self._jwks_json:
            return dict(json.loads(self._jwks_json))
        if self._jwks_file and self._jwks_file.exists():
            return dict(json.loads(self._jwks_file.read_text()))
        if self._jwks_url:
            import httpx

            return dict(httpx.get(self._jwks_url, timeout=2.0).raise_for_status().json())
        return {"keys": []}

    def _reload(self) -> None:
        stamp = self._stamp()
        try:
            document = self._read()
        except Exception:  # keep the keys we have while the source is unreadable
            return
        self._keys = {
            k["kid"]: k for k in document.get("keys", []) if "kid" in k and k.get("kty") == "RSA"
        }
        self._loaded_at = time.monotonic()
        self._file_stamp = stamp

    def get(self, kid: str) -> dict[str, Any] | None:
        """The public JWK for a kid, reloading the set when it is unknown (see the class)."""
        key = self._keys.get(kid)
        if key is None:
            with self._lock:
                if kid not in self._keys and (
                    time.monotonic() - self._loaded_at >= self._min_reload
                    or (self._loader is None and self._stamp() != self._file_stamp)
                ):
                    self._reload()
            key = self._keys.get(kid)
        return key

    def refresh(self) -> None:
        """Forget the keys and read the source again (after a rotation, say)."""
        with self._lock:
            self._reload()


class TokenVerifier:
    """Verifies access tokens: signature (RS256, key by kid), issuer, audience, expiry, nbf,
    and, when given revocations, that the client's tokens were not revoked since iat."""

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        leeway_s: int = 0,
        revocations: RevocationSource | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.revocations = revocations

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthorized (401) for anything else."""
        claims = verified_claims(
            token, self.keys, issuer=self.issuer, audiences=[self.audience], leeway_s=self.leeway_s
        )
        principal = principal_from_claims(claims)
        if self.revocations is not None:
            entry = self.revocations.entry(principal.client_id)
            if entry is not None:
                entry.check(principal.issued_at)
        return principal


def verified_claims(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audiences: Iterable[str],
    leeway_s: int = 0,
) -> dict[str, Any]:
    """The claims of a JWT verified against a key set: RS256 only (never `none`, never an HMAC
    with a public key), the key by kid, the issuer exactly, an audience among `audiences`, exp
    and iat required, nbf honoured. Unauthorized (401) for anything else.

    The gateway's own tokens and an OpenID Connect provider's ID or access tokens are both
    verified here, so the rules (and the JWT library) live in one place.
    """
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise _invalid("The token is malformed") from exc
    if header.get("alg") not in ALGORITHMS:
        raise _invalid("The token's algorithm is not accepted")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _invalid("The token's signing key is unknown")
    accepted = list(audiences)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "leeway": leeway_s,
                "verify_aud": False,  # checked below against every accepted audience
                "verify_at_hash": False,  # an ID token exchanged alone has no access token
            },
        )
    except ExpiredSignatureError as exc:
        raise _invalid("The token has expired") from exc
    except JWTClaimsError as exc:
        raise _invalid(f"The token's claims are not valid: {exc}") from exc
    except JWTError as exc:
        raise _invalid("The token's signature is not valid") from exc
    audience = claims.get("aud")
    presented = [audience] if isinstance(audience, str) else audience
    if not isinstance(presented, list) or not set(map(str, presented)) & set(accepted):
        raise _invalid("The token's claims are not valid: Invalid audience")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > time.time() + leeway_s:
        raise _invalid("The token is not valid yet")
    return dict(claims)


def unverified_issuer(token: str) -> str | None:
    """The iss of a JWT before any check (to choose whose keys verify it), None if unreadable."""
    try:
        issuer = jwt.get_unverified_claims(token).get("iss")
    except (JWTError, AttributeError):
        return None
    return issuer if isinstance(issuer, str) else None


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """A Principal from verified claims (space-separated scope; institutions list or absent)."""
    scopes = frozenset(str(claims.get("scope", "")).split())
    institutions = claims.get("institutions")
    issued_at = claims.get("iat")
    return Principal(
        client_id=str(claims.get("sub", "")),
        scopes=scopes,
        institutions=frozenset(str(i) for i in institutions)
        if isinstance(institutions, list)
        else None,
        token_id=claims.get("jti"),
        issued_at=float(issued_at)
        if isinstance(issued_at, int | float) and not isinstance(issued_at, bool)
        else None,
    )


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def bearer_token(request: Request) -> str | None:
    """The bearer token of a request, if it has one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(request: Request, security_scopes: SecurityScopes) -> Principal:
    """Verify the bearer token with the app's verifier and check the route's scopes."""
    verifier: TokenVerifier = request.app.state.token_verifier
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "A bearer token is required (OAuth2 client credentials at /auth/token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = verifier.verify(token)
    missing = [s for s in security_scopes.scopes if not principal.has(s)]
    if missing:
        raise Forbidden(f"The token lacks the scope {', '.join(missing)}", missing_scopes=missing)
    request.state.principal = principal
    return principal


def _dependency(
    request: Request,
    security_scopes: SecurityScopes,
    _token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    return authenticate(request, security_scopes)


def require(*scopes: str) -> Any:
    """`Security` dependency for a route needing these scopes; the OpenAPI document shows them."""
    from fastapi import Security

    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}")
    return Security(_dependency, scopes=list(scopes))


def key_set_from_settings(settings: Any) -> KeySet:
    """The key set a service's settings point at (inline JSON, a file, or the gateway's URL)."""
    return KeySet(
        jwks_json=getattr(settings, "auth_jwks_json", None) or None,
        jwks_file=Path(settings.auth_jwks_file)
        if getattr(settings, "auth_jwks_file", None)
        else None,
        jwks_url=getattr(settings, "auth_jwks_url", None) or None,
    )


def revocations_from_settings(settings: Any) -> RevocationList | None:
    """The gateway's revocation view a service's settings point at (None: not consulted)."""
    url = getattr(settings, "auth_revocations_url", None)
    if not url:
        return None
    return RevocationList(url, ttl_s=settings.auth_revocations_ttl_s)


def verifier_from_settings(settings: Any) -> TokenVerifier:
    """The token verifier a service's settings describe."""
    return TokenVerifier(
        key_set_from_settings(settings),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        leeway_s=settings.auth_leeway_s,
        revocations=revocations_from_settings(settings),
    )


def institutions_filter(principal: Principal) -> Iterable[str] | None:
    """The institution codes a query must be limited to (None: no limit)."""
    return principal.institutions


__all__ = [
    "ALGORITHMS",
    "SCOPES",
    "KeySet",
    "Principal",
    "TokenVerifier",
    "authenticate",
    "bearer_token",
    "institutions_filter",
    "key_set_from_settings",
    "oauth2_scheme",
    "principal_from_claims",
    "require",
    "revocations_from_settings",
    "unverified_issuer",
    "verified_claims",
    "verifier_from_settings",
]
