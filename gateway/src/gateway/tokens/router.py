"""`POST /auth/token` (OAuth2 client credentials), `GET /.well-known/jwks.json` and
`GET /auth/revocations` (what services must refuse)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.clients.directory import ClientDirectory
from gateway.clients.service import revocation_view
from gateway.models import utcnow
from gateway.oidc.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, exchange
from gateway.tokens.service import OAuthError, granted_scopes, issue_for
from gateway.tokens.throttle import CredentialGuard
from pilnveide_kit.app import SessionDep
from pilnveide_kit.errors import PROBLEM_MEDIA_TYPE, Problem

router = APIRouter(tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequest(BaseModel):
    """RFC 6749 §4.4.2 access token request (form-encoded)."""

    grant_type: str | None = Field(
        default=None,
        description="client_credentials, or urn:ietf:params:oauth:grant-type:token-exchange "
        "(a person's sign-in: an identity provider's token for a gateway token, RFC 8693)",
    )
    scope: str | None = Field(
        default=None, description="Space-separated subset of the client's scopes (default: all)"
    )
    client_id: str | None = Field(default=None, description="When not sent with HTTP Basic")
    client_secret: str | None = Field(default=None, description="When not sent with HTTP Basic")
    subject_token: str | None = Field(
        default=None, description="Token exchange: the identity provider's ID or access token"
    )
    subject_token_type: str | None = Field(
        default=None,
        description="Token exchange: urn:ietf:params:oauth:token-type:id_token, "
        ":access_token or :jwt",
    )


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 access token answer."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int
    scope: str
    issued_token_type: str | None = Field(
        default=None, description="Token exchange only (RFC 8693 §2.2.1): an access token"
    )


class OAuthErrorResponse(BaseModel):
    """RFC 6749 §5.2 error answer."""

    error: str = Field(
        description="invalid_request, invalid_client, unsupported_grant_type, invalid_scope "
        "or temporarily_unavailable"
    )
    error_description: str | None = None


class RevokedClient(BaseModel):
    """What services must refuse of one client's tokens."""

    active: bool = Field(description="false: every token of the client is refused")
    not_before: int | None = Field(
        description="Epoch seconds: tokens whose iat is earlier are refused"
    )


class RevocationView(BaseModel):
    """Clients whose tokens are (partly) cut off; a client not listed has nothing revoked."""

    generated_at: int = Field(description="Epoch seconds when the view was made")
    clients: dict[str, RevokedClient]


class JsonWebKeySet(BaseModel):
    """The gateway's public signing keys (RFC 7517), current and still-valid previous ones."""

    keys: list[dict[str, Any]]


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Client id and secret of an HTTP Basic header (RFC 6749 §2.3.1 form-decoded), if any."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(400, "invalid_request", "The Basic credentials are malformed") from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError(400, "invalid_request", "The Basic credentials are malformed")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials(request: Request, form: TokenRequest) -> tuple[str, str, bool]:
    basic = basic_credentials(request.headers.get("authorization"))
    if basic and (form.client_secret or (form.client_id and form.client_id != basic[0])):
        raise OAuthError(
            400, "invalid_request", "Authenticate with HTTP Basic or the form, not both"
        )
    if basic:
        return basic[0], basic[1], True
    if form.client_id and form.client_secret:
        return form.client_id, form.client_secret, False
    raise OAuthError(
        401,
        "invalid_client",
        "Client authentication is required (HTTP Basic or client_id and client_secret)",
        headers={"WWW-Authenticate": 'Basic realm="pilnveide"'},
    )


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Get an access token (client credentials, or a person's sign-in by token exchange)",
    responses={
        400: {"model": OAuthErrorResponse, "description": "RFC 6749 §5.2 error"},
        401: {"model": OAuthErrorResponse, "description": "Unknown client or wrong secret"},
        429: {
            "model": Problem,
            "description": "Too many wrong secrets for this client id or from this address, or "
            "too many requests of this client (problem+json, Retry-After)",
        },
        503: {
            "model": OAuthErrorResponse,
            "description": "Resort list unavailable; or (problem+json, Retry-After) every "
            "secret-hashing slot stayed busy",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
)
async def issue_token(request: Request, form: Annotated[TokenRequest, Form()]) -> Any:
    """Exchange a client's id and secret for a short-lived bearer token (RFC 6749 §4.4).

    Wrong secrets are throttled per registered client id and per source address (429 with
    Retry-After), and secret checks run a few at a time (see gateway.tokens.throttle).
    """
    state = request.app.state
    if form.grant_type == TOKEN_EXCHANGE:
        return await exchange_token(request, form)
    client_id, secret, used_basic = _client_credentials(request, form)
    request.state.audit_client_id = client_id
    if form.grant_type is None:
        raise OAuthError(400, "invalid_request", "grant_type is required")
    if form.grant_type != "client_credentials":
        raise OAuthError(
            400, "unsupported_grant_type", "Only grant_type=client_credentials is supported"
        )
    guard: CredentialGuard = state.credential_guard
    directory: ClientDirectory = state.directory
    grant = await guard.check(client_id, secret, client_address(request), directory.authenticate)
    if grant is None:
        raise OAuthError(
            401,
            "invalid_client",
            "Unknown client, wrong secret or deactivated client",
            headers={"WWW-Authenticate": 'Basic realm="pilnveide"'} if used_basic else None,
        )
    scopes = granted_scopes(grant.scopes, form.scope)
    issued = await run_in_threadpool(
        lambda: issue_for(
            grant,
            scopes,
            keys=state.keys,
            resorts=state.resorts,
            lifetime_s=state.settings.token_lifetime_s,
        )
    )
    answer = TokenResponse(
        access_token=issued.token, expires_in=issued.expires_in, scope=" ".join(scopes)
    )
    return JSONResponse(answer.model_dump(exclude_none=True), headers=NO_STORE)


async def exchange_token(request: Request, form: TokenRequest) -> JSONResponse:
    """A person's sign-in: the identity provider's token for a gateway token (gateway.oidc)."""
    state = request.app.state
    issued, scopes = await run_in_threadpool(
        lambda: exchange(
            subject_token=form.subject_token,
            subject_token_type=form.subject_token_type,
            requested_scope=form.scope,
            issuers=state.oidc_issuers,
            directory=state.directory,
            keys=state.keys,
            settings=state.settings,
            rate_limiter=state.rate_limiter,
        )
    )
    request.state.audit_client_id = issued.claims["sub"]
    answer = TokenResponse(
        access_token=issued.token,
        expires_in=issued.expires_in,
        scope=" ".join(scopes),
        issued_token_type=ACCESS_TOKEN_TYPE,
    )
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


def client_address(request: Request) -> str:
    """The caller's address as the gateway sees it (the TCP peer)."""
    return request.client.host if request.client else "unknown"


@router.get(
    "/auth/revocations",
    response_model=RevocationView,
    summary="Clients whose tokens services must refuse",
)
def revocations(session: SessionDep) -> JSONResponse:
    """Deactivated clients, and clients whose tokens issued before `not_before` are cut off
    (deactivation, a secret rotation without grace). Services fetch this every few seconds
    (`<PREFIX>AUTH_REVOCATIONS_URL`); public like the JWKS: it holds no secret."""
    now = utcnow()
    view = RevocationView(
        generated_at=int(now.timestamp()),
        clients={
            client_id: RevokedClient(active=entry.active, not_before=entry.not_before)
            for client_id, entry in revocation_view(session, now).items()
        },
    )
    return JSONResponse(view.model_dump(), headers={"Cache-Control": "no-cache"})


@router.get(
    "/.well-known/jwks.json",
    response_model=JsonWebKeySet,
    summary="The gateway's public signing keys",
)
def jwks(request: Request) -> JSONResponse:
    """Public keys (by kid) verifying the gateway's access tokens; they rotate without downtime."""
    return JSONResponse(
        request.app.state.keys.jwks(), headers={"Cache-Control": "public, max-age=60"}
    )
