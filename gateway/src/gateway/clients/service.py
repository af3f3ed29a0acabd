"""The client registry: create, list, deactivate, rotate secrets, authenticate."""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, or_, select

from gateway.clients.models import ApiClient, ApiClientCreate
from gateway.clients.secrets import SecretHasher, new_secret
from gateway.models import as_utc, utcnow
from pilnveide_kit.errors import Conflict, NotFound
from pilnveide_kit.pagination import count_of
from pilnveide_kit.revocations import ClientRevocation

#: The longest a token can live (the upper bound of GATEWAY_TOKEN_LIFETIME_S): a revocation
#: older than this cuts off no live token, so the revocation view leaves it out.
MAX_TOKEN_LIFETIME_S = 3600


class ClientNotFound(NotFound):
    """No client with this id."""

    slug = "client-not-found"


class ClientExists(Conflict):
    """A client with this id is already registered."""

    slug = "client-exists"


class SelfDeactivation(Conflict):
    """An admin may not deactivate the client it is calling with."""

    slug = "self-deactivation"


class LastActiveAdmin(Conflict):
    """Deactivating this client would leave no active unrestricted admin."""

    slug = "last-active-admin"


@dataclass(frozen=True)
class ClientGrant:
    """What an authenticated client may receive in a token."""

    client_id: str
    scopes: tuple[str, ...]
    institutions: tuple[str, ...] | None
    resort: str | None
    #: The client's revocation instant (epoch seconds): its new tokens' iat is never earlier.
    not_before: int | None = None

    @classmethod
    def of(cls, client: ApiClient) -> ClientGrant:
        """The grant of a stored client."""
        return cls(
            client_id=client.client_id,
            scopes=tuple(client.scopes),
            institutions=tuple(client.institutions) if client.institutions is not None else None,
            resort=client.resort,
            not_before=epoch_seconds(client.tokens_not_before),
        )


def epoch_seconds(moment: datetime | None) -> int | None:
    """A stored instant as whole epoch seconds."""
    value = as_utc(moment)
    return None if value is None else int(value.timestamp())


def revocation_instant(now: datetime) -> datetime:
    """The not_before that cuts off every token issued up to now.

    iat has whole seconds, so a token issued earlier in this very second has iat = floor(now):
    the instant is the next whole second. Tokens issued after the revocation get an iat of at
    least that (see TokenSigner.issue), so they are not cut off.
    """
    return datetime.fromtimestamp(math.floor(now.timestamp()) + 1, UTC)


def revoke_tokens(client: ApiClient, now: datetime) -> None:
    """Cut off every token the client holds (tokens_not_before moves forward, never back).

    A second revocation within the second of the first moves the instant one second further:
    a token issued between the two got iat = the first instant, and must be cut off too.
    """
    instant = revocation_instant(now)
    current = as_utc(client.tokens_not_before)
    if current is not None and current >= instant:
        instant = current + timedelta(seconds=1)
    client.tokens_not_before = instant


def mark_changed(client: ApiClient, now: datetime) -> None:
    """Record a change of the client: updated_at, and a new version (so a new ETag)."""
    client.updated_at = now
    client.version = (client.version or 0) + 1


def is_unrestricted_admin(client: ApiClient) -> bool:
    """Whether the client may administer clients (admin scope, no restriction)."""
    return "admin" in client.scopes and client.institutions is None and not client.resort


def create_client(
    session: Session, hasher: SecretHasher, body: ApiClientCreate
) -> tuple[ApiClient, str]:
    """Register a client; returns it with its secret (the only time the secret exists)."""
    client_id = body.client_id or f"client-{secrets.token_hex(6)}"
    if session.get(ApiClient, client_id) is not None:
        raise ClientExists(f"A client {client_id!r} is already registered", client_id=client_id)
    secret = new_secret()
    now = utcnow()
    client = ApiClient(
        client_id=client_id,
        name=body.name,
        scopes=list(body.scopes),
        institutions=list(body.institutions) if body.institutions is not None else None,
        resort=body.resort,
        rate_limit_per_s=body.rate_limit.per_s if body.rate_limit else None,
        rate_limit_burst=body.rate_limit.burst if body.rate_limit else None,
        active=True,
        secret_hash=hasher.hash(secret),
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    return client, secret


def get_client(session: Session, client_id: str) -> ApiClient:
    """A registered client, or ClientNotFound."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise ClientNotFound(f"No client {client_id!r}", client_id=client_id)
    return client


def list_clients(
    session: Session, *, limit: int, after: str | None, active: bool | None
) -> tuple[Sequence[ApiClient], int]:
    """Up to limit+1 clients ordered by id, after a cursor id; and how many match in all."""
    query = select(ApiClient)
    if active is not None:
        query = query.where(col(ApiClient.active) == active)
    total = count_of(session, query)
    if after is not None:
        query = query.where(col(ApiClient.client_id) > after)
    return session.exec(query.order_by(col(ApiClient.client_id)).limit(limit + 1)).all(), total


def set_active(
    session: Session, client_id: str, active: bool, *, by: str | None = None
) -> ApiClient:
    """Activate or deactivate a client. Deactivation cuts off its tokens (tokens_not_before),
    so reactivation does not revive them; an admin (by) may not deactivate itself or the last
    active unrestricted admin."""
    client = get_client(session, client_id)
    if not active and client.active:
        if by is not None and client_id == by:
            raise SelfDeactivation(
                "An admin may not deactivate the client it calls with", client_id=client_id
            )
        if is_unrestricted_admin(client) and not other_active_admins(session, client_id):
            raise LastActiveAdmin(
                f"{client_id!r} is the last active admin; register or activate another first",
                client_id=client_id,
            )
    if client.active != active:
        now = utcnow()
        if not active:
            revoke_tokens(client, now)
        client.active = active
        mark_changed(client, now)
        session.add(client)
        session.flush()
    return client


def other_active_admins(session: Session, client_id: str) -> list[str]:
    # Lock every active client, the target included (PostgreSQL; SQLite writers are serialised
    # anyway): of two admins deactivating each other at once, the second waits, then sees the
    # first's change and is refused as the last admin.
    rows = session.exec(
        select(ApiClient).where(col(ApiClient.active).is_(True)).with_for_update()
    ).all()
    return [
        row.client_id for row in rows if row.client_id != client_id and is_unrestricted_admin(row)
    ]


def revocation_view(session: Session, now: datetime) -> dict[str, ClientRevocation]:
    """Every client with tokens cut off that may still be alive: inactive ones, and those with
    a revocation instant less than the longest token lifetime ago."""
    horizon = now - timedelta(seconds=MAX_TOKEN_LIFETIME_S)
    rows = session.exec(
        select(ApiClient).where(
            or_(
                col(ApiClient.active).is_(False),
                col(ApiClient.tokens_not_before) > horizon,
            )
        )
    ).all()
    return {
        row.client_id: ClientRevocation(
            active=row.active, not_before=epoch_seconds(row.tokens_not_before)
        )
        for row in rows
    }


def rotate_secret(
    session: Session, hasher: SecretHasher, client_id: str, previous_valid_for_s: int
) -> tuple[ApiClient, str]:
    """A new secret; the current one stays valid for previous_valid_for_s seconds."""
    client = get_client(session, client_id)
    secret = new_secret()
    now = utcnow()
    if previous_valid_for_s > 0:
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = now + timedelta(seconds=previous_valid_for_s)
    else:
        # The old secret ends now, and so do the tokens obtained with it.
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
        revoke_tokens(client, now)
    client.secret_hash = hasher.hash(secret)
    client.secret_rotated_at = now
    mark_changed(client, now)
    session.add(client)
    session.flush()
    return client, secret


def revoke_previous_secret(session: Session, client_id: str) -> ApiClient:
    """End a rotation early: only the newest secret works from now on, and every token issued
    so far is cut off (a token does not say which secret obtained it)."""
    client = get_client(session, client_id)
    if client.previous_secret_hash is not None:
        now = utcnow()
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
        revoke_tokens(client, now)
        mark_changed(client, now)
        session.add(client)
        session.flush()
    return client


class _Timing:
    """A hash to check unknown ids against, so a wrong id costs as much as a wrong secret."""

    _lock = threading.Lock()
    _hash: str | None = None

    @classmethod
    def burn(cls, hasher: SecretHasher, secret: str) -> None:
        with cls._lock:
            if cls._hash is None:
                cls._hash = hasher.hash(new_secret())
        hasher.verify(cls._hash, secret)


def authenticate_client(
    session: Session,
    hasher: SecretHasher,
    client_id: str,
    secret: str,
    *,
    now: datetime | None = None,
    touch: bool = True,
) -> ApiClient | None:
    """The active client these credentials belong to (current or unexpired previous secret)."""
    client = session.get(ApiClient, client_id)
    if client is None:
        _Timing.burn(hasher, secret)
        return None
    moment = now or utcnow()
    matched = hasher.verify(client.secret_hash, secret)
    if not matched and client.previous_secret_hash is not None:
        expires = as_utc(client.previous_secret_expires_at)
        if expires is not None and expires > moment:
            matched = hasher.verify(client.previous_secret_hash, secret)
    if not matched or not client.active:
        return None
    if touch:
        client.last_used_at = moment
        if hasher.needs_rehash(client.secret_hash) and hasher.verify(client.secret_hash, secret):
            client.secret_hash = hasher.hash(secret)
        session.add(client)
        session.flush()
    return client


def ensure_admin_client(session: Session, hasher: SecretHasher, client_id: str, secret: str) -> str:
    """Create or update the admin client (scope admin, unrestricted, active, this secret)."""
    return ensure_client(session, hasher, client_id, secret, name="Administrator", scopes=["admin"])


def ensure_client(
    session: Session,
    hasher: SecretHasher,
    client_id: str,
    secret: str,
    *,
    name: str,
    scopes: list[str],
) -> str:
    """Create or update a configured client (unrestricted, active, these scopes and secret)."""
    client = session.get(ApiClient, client_id)
    now = utcnow()
    if client is None:
        session.add(
            ApiClient(
                client_id=client_id,
                name=name,
                scopes=scopes,
                active=True,
                secret_hash=hasher.hash(secret),
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        return "created"
    changed = False
    if not hasher.verify(client.secret_hash, secret):
        client.secret_hash = hasher.hash(secret)
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
        client.secret_rotated_at = now
        revoke_tokens(client, now)  # a replaced secret ends its tokens, as a rotation would
        changed = True
    if client.scopes != scopes or client.institutions is not None or client.resort:
        client.scopes, client.institutions, client.resort = scopes, None, None
        changed = True
    if not client.active:
        client.active = True
        changed = True
    if changed:
        mark_changed(client, now)
        session.add(client)
        session.flush()
    return "updated" if changed else "unchanged"
