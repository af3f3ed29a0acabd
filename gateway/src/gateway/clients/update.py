"""Changing a client (PATCH /admin/clients/{id}): If-Match, and tokens revoked when narrowed.

A change that takes anything away — a scope, an institution, the absence of a restriction, a
resort — cuts off every token the client holds (tokens_not_before, published to the services
by GET /auth/revocations), so the narrower grant holds at once and not only for new tokens.
A change that only adds, renames or sets the rate limit leaves its tokens alone: they grant no
more than the client may now have, and its new tokens carry the wider grant.
"""

from __future__ import annotations

from sqlmodel import Session

from gateway.clients.models import ApiClient, ApiClientUpdate, check_restriction, etag
from gateway.clients.service import (
    LastActiveAdmin,
    get_client,
    is_unrestricted_admin,
    mark_changed,
    other_active_admins,
    revoke_tokens,
)
from gateway.models import utcnow
from pilnveide_kit.concurrency import require_if_match
from pilnveide_kit.errors import (
    Conflict,
    UnprocessableContent,
)


class SelfLockout(Conflict):
    """An admin may not take the admin scope or its freedom from restriction from itself."""

    slug = "self-lockout"


class InvalidClient(UnprocessableContent):
    """The client the change would leave is not a valid one."""

    slug = "invalid-client"


def check_if_match(if_match: str | None, client: ApiClient) -> None:
    """428 without If-Match, 412 when it does not name the client's current version."""
    require_if_match(if_match, etag(client), "client")


def narrows(
    client: ApiClient, scopes: list[str], institutions: list[str] | None, resort: str | None
) -> bool:
    """Whether the new grant takes away anything the current one gives."""
    if set(client.scopes) - set(scopes):
        return True
    if client.institutions is None and client.resort is None:
        return institutions is not None or resort is not None
    if client.resort is not None:
        return resort != client.resort  # another resort or a list: not comparable here
    if institutions is None:
        return resort is not None  # institutions → resort: not comparable; → none: wider
    return bool(set(client.institutions or ()) - set(institutions))


def update_client(
    session: Session, client_id: str, body: ApiClientUpdate, if_match: str | None, *, by: str
) -> tuple[ApiClient, bool]:
    """Apply the change; the client and whether its tokens were revoked (see the module)."""
    client = get_client(session, client_id)
    check_if_match(if_match, client)
    given = body.model_fields_set
    scopes = body.scopes if "scopes" in given and body.scopes is not None else list(client.scopes)
    institutions = body.institutions if "institutions" in given else client.institutions
    resort = body.resort if "resort" in given else client.resort
    try:
        check_restriction(scopes, institutions, resort)
    except ValueError as exc:
        raise InvalidClient(str(exc), client_id=client_id) from exc
    was_admin = is_unrestricted_admin(client)
    stays_admin = "admin" in scopes and institutions is None and not resort
    if was_admin and not stays_admin:
        if client_id == by:
            raise SelfLockout(
                "An admin may not take the admin scope or unrestricted access from the client "
                "it calls with",
                client_id=client_id,
            )
        if client.active and not other_active_admins(session, client_id):
            raise LastActiveAdmin(
                f"{client_id!r} is the last active admin; register or activate another first",
                client_id=client_id,
            )
    narrowed = narrows(client, scopes, institutions, resort)
    now = utcnow()
    if narrowed:
        revoke_tokens(client, now)
    client.scopes = scopes
    client.institutions = list(institutions) if institutions is not None else None
    client.resort = resort
    if "name" in given and body.name is not None:
        client.name = body.name
    if "rate_limit" in given:
        limit = body.rate_limit
        client.rate_limit_per_s = limit.per_s if limit else None
        client.rate_limit_burst = limit.burst if limit else None
    mark_changed(client, now)
    session.add(client)
    session.flush()
    return client, narrowed
