"""Who may pass the gateway: a valid bearer token of an active client (or Basic on /xapi).

The gateway verifies the token with the kit's JWT module before proxying and forwards it
unchanged; the service verifies it again and checks the route's scope. On /xapi/** an LRS
client may authenticate with HTTP Basic (its client id and secret): the gateway checks them
against the registry and forwards a short-lived bearer token it mints for that client.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.clients.directory import ClientDirectory, ClientStatus
from gateway.ratelimit import RateLimiter
from gateway.tokens.router import basic_credentials, client_address
from gateway.tokens.service import OAuthError, issue_for
from gateway.tokens.throttle import CredentialGuard
from gateway.tokens.verified import VerifiedTokens
from pilnveide_kit.auth import Principal, bearer_token, principal_from_claims
from pilnveide_kit.errors import ServiceUnavailable, Unauthorized
from pilnveide_kit.revocations import ClientDeactivated

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pilnveide"'}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="pilnveide", Bearer realm="pilnveide"'}

__all__ = ["ClientDeactivated", "admit", "rate_limit"]


def rate_limit(request: Request, principal: Principal) -> None:
    """The per-client rate limit every route that takes a token applies (429, Retry-After):
    the client's own limit from the registry, else the gateway's default (may block: the
    registry is read when its cached status is stale)."""
    directory: ClientDirectory = request.app.state.directory
    limit_client(request, principal.client_id, directory.status(principal.client_id))


def limit_client(request: Request, client_id: str, status: ClientStatus) -> None:
    """Take one request from the client's bucket, with its own limits if it has them."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(f"client:{client_id}", status.limits)


async def client_status(directory: ClientDirectory, client_id: str) -> ClientStatus:
    """The client's status: from the cache on the event loop, else read in a worker thread."""
    status = directory.fresh(client_id)
    if status is None:
        status = await run_in_threadpool(directory.status, client_id)
    return status


async def admit(request: Request, *, allow_basic: bool) -> tuple[Principal, str]:
    """The verified caller of a proxied request and the bearer token to forward.

    A token is verified once and remembered until it expires (VerifiedTokens); its client's
    status is consulted on every request: a token of a deactivated or unknown client, or one
    issued before its client's revocation instant, is refused here as on /admin/**.
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
        tokens: VerifiedTokens = state.verified_tokens
        admitted = await tokens.admit(token)
        principal = admitted.principal
        limit_client(request, principal.client_id, admitted.status)
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
        limit_client(request, client_id, await client_status(directory, client_id))
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
