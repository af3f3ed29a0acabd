"""Issuing access tokens: which scopes and institutions a client's token carries."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from gateway.clients.models import UNRESTRICTED_ONLY_SCOPES
from gateway.clients.service import ClientGrant
from gateway.keys import KeyStore
from gateway.tokens.resorts import ResortResolver, ResortUnavailable
from pilnveide_kit.auth import SCOPES
from pilnveide_kit.signing import IssuedToken


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint: {error, error_description}."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON answer OAuth clients expect (not problem+json: RFC 6749 §5.2)."""
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", **self.headers},
        )


def granted_scopes(client_scopes: tuple[str, ...], requested: str | None) -> list[str]:
    """The scopes of the token: all the client's, or the requested subset of them.

    A client with `admin` may ask for any known scope (admin carries them all).
    """
    allowed = set(client_scopes)
    if not requested or not requested.strip():
        return sorted(allowed)
    asked = set(requested.split())
    unknown = sorted(asked - set(SCOPES))
    if unknown:
        raise OAuthError(400, "invalid_scope", f"Unknown scopes: {' '.join(unknown)}")
    if "admin" not in allowed:
        refused = sorted(asked - allowed)
        if refused:
            raise OAuthError(
                400, "invalid_scope", f"The client may not ask for: {' '.join(refused)}"
            )
    return sorted(asked)


def token_institutions(grant: ClientGrant, resorts: ResortResolver) -> list[str] | None:
    """The institutions claim: the client's codes, its resort's codes, or None (unrestricted)."""
    if grant.institutions is not None:
        return list(grant.institutions)
    if grant.resort:
        try:
            return list(resorts.institutions(grant.resort))
        except ResortUnavailable as exc:
            raise OAuthError(503, "temporarily_unavailable", str(exc)) from exc
    return None


def issue_for(
    grant: ClientGrant,
    scopes: list[str],
    *,
    keys: KeyStore,
    resorts: ResortResolver,
    lifetime_s: int,
) -> IssuedToken:
    """A signed access token for an authenticated client.

    A restricted client never receives records:erase (not even through admin's all-scopes).
    """
    if (grant.institutions is not None or grant.resort) and UNRESTRICTED_ONLY_SCOPES & set(scopes):
        raise OAuthError(
            400,
            "invalid_scope",
            "records:erase is only issued to unrestricted clients (the data-protection officer)",
        )
    return keys.signer().issue(
        grant.client_id,
        scopes,
        institutions=token_institutions(grant, resorts),
        lifetime_s=lifetime_s,
        revoked_before=grant.not_before,
    )
