"""Who may pass the gateway: a valid bearer token of an active client (or Basic on /xapi).

The gateway verifies the token with the kit's JWT module before proxying and forwards it
unchanged; the service verifies it again and checks the route's scope. On /xapi/** an LRS
client may authenticate with HTTP Basic (its client id and secret): the gateway checks them
against the registry and forwards a short-lived bearer token it mints for that client.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.clients.service import ClientDirectory
from gateway.ratelimit import RateLimiter
from gateway.tokens.router import basic_credentials
from gateway.tokens.service import OAuthError, issue_for
from pilnveide_kit.auth import Principal, TokenVerifier, bearer_token, principal_from_claims
from pilnveide_kit.errors import ServiceUnavailable, Unauthorized

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pilnveide"'}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="pilnveide", Bearer realm="pilnveide"'}


class ClientDeactivated(Unauthorized):
    """The token belongs to a client that is deactivated or no longer registered."""

    slug = "client-deactivated"


async def admit(request: Request, *, allow_basic: bool) -> tuple[Principal, str]:
    """The verified caller of a proxied request and the bearer token to forward."""
    state = request.app.state
    limiter: RateLimiter = state.rate_limiter
    directory: ClientDirectory = state.directory
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
        principal = verifier.verify(token)
        limiter.check(f"client:{principal.client_id}")
        if not await run_in_threadpool(directory.is_active, principal.client_id):
            raise ClientDeactivated(
                "The token's client is deactivated or unknown", headers=BEARER_CHALLENGE
            )
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
    state.rate_limiter.check(f"client:{client_id}")
    directory: ClientDirectory = state.directory
    grant = await run_in_threadpool(directory.check_basic, client_id, secret)
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
