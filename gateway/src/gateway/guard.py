"""Who may pass the gateway: a valid bearer token of an active client (or Basic on /xapi).

The gateway verifies the token with the kit's JWT module before proxying and forwards it
unchanged; the service verifies it again and checks the route's scope. On /xapi/** an LRS
client may authenticate with HTTP Basic (its client id and secret): the gateway checks them
against the registry and forwards a short-lived bearer token it mints for that client.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.clients.directory import ClientDirectory
from gateway.ratelimit import RateLimiter
from gateway.tokens.router import basic_credentials, client_address
from gateway.tokens.service import OAuthError, issue_for
from gateway.tokens.throttle import CredentialGuard
from pilnveide_kit.auth import Principal, TokenVerifier, bearer_token, principal_from_claims
from pilnveide_kit.errors import ServiceUnavailable, Unauthorized
from pilnveide_kit.revocations import ClientDeactivated

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pilnveide"'}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="pilnveide", Bearer realm="pilnveide"'}

__all__ = ["ClientDeactivated", "admit", "rate_limit"]


def rate_limit(request: Request, principal: Principal) -> None:
    """The per-client rate limit every route that takes a token applies (429, Retry-After)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(f"client:{principal.client_id}")


async def admit(request: Request, *, allow_basic: bool) -> tuple[Principal, str]:
    """The verified caller of a proxied request and the bearer token to forward.

    The gateway's verifier consults the client registry (ClientDirectory.entry): a token of a
    deactivated or unknown client, or one issued before its client's revocation instant, is
    refused here as on /admin/**.
    """
    state = request.app.state
    header = request.headers.get("authorization", "")
    if allow_basic and header[:6].lower() == "basic ":
        principal, token = await _admit_basic(request, header)
    else:
        token_or_none = bearer_token(request)
        if token_or_none is None:
            raise Unauthorized(
                "A bearer token is required (OAuth2 client credentials at /auth/token)",
                headers=BASIC_CHALLENGE if allow_basic else BEARER_CHALLENGE,
            )
        token = token_or_none
        verifier: TokenVerifier = state.token_verifier
        # The registry lookup behind the verifier may reach the database: off the event loop.
        principal = await run_in_threadpool(verifier.verify, token)
        rate_limit(request, principal)
    request.state.principal = principal
    return principal, token


async def _admit_basic(request: Request, header: str) -> tuple[Principal, str]:
    state = request.app.state
    try:
        credentials = basic_credentials(header)
    except OAuthError as exc:
        raise Unauthorized(exc.description, headers=BASIC_CHALLENGE) from exc
    assert credentials is not None
    client_id, secret = credentials
    request.state.audit_client_id = client_id
    directory: ClientDirectory = state.directory
    # Credentials verified a moment ago need no Argon2 and no throttle; others go the guarded way.
    grant = await run_in_threadpool(directory.cached_basic, client_id, secret)
    if grant is not None:
        state.rate_limiter.check(f"client:{client_id}")
    else:
        guard: CredentialGuard = state.credential_guard
        grant = await guard.check(client_id, secret, client_address(request), directory.check_basic)
    if grant is None:
        raise Unauthorized(
            "The client id or secret is not valid, or the client is deactivated",
            headers=BASIC_CHALLENGE,
        )
    try:
        issued = await run_in_threadpool(
            lambda: issue_for(
                grant,
                list(grant.scopes),
                keys=state.keys,
                resorts=state.resorts,
                lifetime_s=state.settings.basic_token_lifetime_s,
            )
        )
    except OAuthError as exc:
        raise ServiceUnavailable(exc.description, headers={"Retry-After": "5"}) from exc
    return principal_from_claims(issued.claims), issued.token
