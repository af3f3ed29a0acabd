"""Admin API for API clients: create, list, get, deactivate, activate, rotate secrets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from gateway.clients import service
from gateway.clients.directory import ClientDirectory
from gateway.clients.models import (
    ApiClientCreate,
    ApiClientPublic,
    ApiClientUpdate,
    ApiClientWithSecret,
    SecretRotation,
    etag,
)
from gateway.clients.update import update_client
from gateway.guard import rate_limit
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import BadRequest, Forbidden, Problem
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/admin/clients", tags=["admin"])


class RestrictedAdmin(Forbidden):
    """An institution-restricted token may not administer clients."""

    slug = "restricted-admin"


def _unrestricted(request: Request, principal: Annotated[Principal, require("admin")]) -> Principal:
    # The token was verified against the registry (a deactivated admin is refused at once);
    # the admin API counts against the client's rate limit like every other route.
    rate_limit(request, principal)
    if principal.restricted:
        raise RestrictedAdmin("Administering clients needs an admin token without restriction")
    return principal


def unrestricted_admin() -> Any:
    """Dependency: an active client's token with the admin scope and no institution
    restriction, within its rate limit."""
    return Depends(_unrestricted)


AdminDep = Annotated[Principal, unrestricted_admin()]


def _forget(request: Request, client_id: str) -> None:
    directory: ClientDirectory = request.app.state.directory
    directory.invalidate(client_id)


@router.post(
    "",
    response_model=ApiClientWithSecret,
    status_code=201,
    summary="Register an API client",
)
def create_client(
    body: ApiClientCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    _admin: AdminDep,
) -> ApiClientWithSecret:
    """Register a client; the answer carries its secret, shown this once only, its ETag, and
    its address in Location. Without rate_limit it gets the gateway's default limit."""
    client, secret = service.create_client(session, request.app.state.hasher, body)
    response.headers["Location"] = str(request.url_for("get_client", client_id=client.client_id))
    response.headers["ETag"] = etag(client)
    return ApiClientWithSecret(**ApiClientPublic.of(client).model_dump(), client_secret=secret)


@router.get("", response_model=Page[ApiClientPublic], summary="List API clients")
def list_clients(
    session: SessionDep,
    _admin: AdminDep,
    page: Annotated[PageParams, Depends(page_params)],
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
) -> Page[ApiClientPublic]:
    """Registered clients ordered by id (never their secrets)."""
    after = page.after.get("client_id") if page.after else None
    if page.after is not None and not isinstance(after, str):
        raise BadRequest("The cursor is not valid; use next_cursor from a previous page")
    rows, total = service.list_clients(session, limit=page.limit, after=after, active=active)
    return make_page(
        [ApiClientPublic.of(c) for c in rows],
        page.limit,
        key=lambda c: {"client_id": c.client_id},
        count=total,
    )


@router.get("/{client_id}", response_model=ApiClientPublic, summary="Get an API client")
def get_client(
    client_id: str, response: Response, session: SessionDep, _admin: AdminDep
) -> ApiClientPublic:
    """One registered client, with its ETag (send it as If-Match to change the client)."""
    client = service.get_client(session, client_id)
    response.headers["ETag"] = etag(client)
    return ApiClientPublic.of(client)


@router.patch(
    "/{client_id}",
    response_model=ApiClientPublic,
    summary="Change an API client's name, scopes, institutions, resort or rate limit",
    responses={
        409: {
            "model": Problem,
            "description": "self-lockout (an admin narrowing its own admin access) or "
            "last-active-admin",
        },
        412: {"model": Problem, "description": "stale-write: the If-Match ETag is not current"},
        428: {"model": Problem, "description": "if-match-required: no If-Match"},
    },
)
def change_client(
    client_id: str,
    body: ApiClientUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    admin: AdminDep,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="The ETag of the client as you read it; a stale one answers 412, none 428",
        ),
    ] = None,
) -> ApiClientPublic:
    """Change the fields given (absent: unchanged; null clears institutions, resort or
    rate_limit). New tokens carry the new grant at once. A change that takes anything away (a
    scope, an institution, unrestricted access, a resort) also revokes every token the client
    holds: the gateway refuses them at once, the services within their revocation delay. Adding
    scopes or institutions, renaming and changing the rate limit leave its tokens alone; a new
    rate limit applies to the client's next request. Audited like every write."""
    client, _revoked = update_client(session, client_id, body, if_match, by=admin.client_id)
    _forget(request, client_id)
    response.headers["ETag"] = etag(client)
    return ApiClientPublic.of(client)


@router.post(
    "/{client_id}/deactivate",
    response_model=ApiClientPublic,
    summary="Deactivate an API client",
    responses={
        409: {
            "model": Problem,
            "description": "self-deactivation, or last-active-admin: the client is the last "
            "active unrestricted admin",
        }
    },
)
def deactivate_client(
    client_id: str, request: Request, session: SessionDep, admin: AdminDep
) -> ApiClientPublic:
    """Stop a client: no new tokens; its current ones are refused by the gateway at once and by
    the services within their revocation delay, and stay refused after a reactivation. An admin
    may not deactivate itself or the last active admin (409)."""
    client = service.set_active(session, client_id, False, by=admin.client_id)
    _forget(request, client_id)
    return ApiClientPublic.of(client)


@router.post(
    "/{client_id}/activate", response_model=ApiClientPublic, summary="Reactivate an API client"
)
def activate_client(
    client_id: str, request: Request, session: SessionDep, _admin: AdminDep
) -> ApiClientPublic:
    """Let a deactivated client get tokens again (those issued before stay refused)."""
    client = service.set_active(session, client_id, True)
    _forget(request, client_id)
    return ApiClientPublic.of(client)


@router.post(
    "/{client_id}/rotate-secret",
    response_model=ApiClientWithSecret,
    summary="Rotate an API client's secret",
)
def rotate_client_secret(
    client_id: str,
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    body: SecretRotation | None = None,
) -> ApiClientWithSecret:
    """A new secret, shown once; the old one keeps working for the grace period given. With no
    grace the old secret ends now and so does every token issued so far."""
    grace = request.app.state.settings.secret_rotation_grace_s
    if body is not None and body.previous_valid_for_s is not None:
        grace = body.previous_valid_for_s
    client, secret = service.rotate_secret(session, request.app.state.hasher, client_id, grace)
    _forget(request, client_id)
    return ApiClientWithSecret(**ApiClientPublic.of(client).model_dump(), client_secret=secret)


@router.post(
    "/{client_id}/revoke-previous-secret",
    response_model=ApiClientPublic,
    summary="End a secret rotation now",
)
def revoke_previous_client_secret(
    client_id: str, request: Request, session: SessionDep, _admin: AdminDep
) -> ApiClientPublic:
    """Only the newest secret works from now on; every token issued so far is refused."""
    client = service.revoke_previous_secret(session, client_id)
    _forget(request, client_id)
    return ApiClientPublic.of(client)
