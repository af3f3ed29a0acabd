"""The client registry: create, list, deactivate, rotate secrets, authenticate."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gateway.clients.models import ApiClient, ApiClientCreate
from gateway.clients.secrets import SecretHasher, new_secret
from gateway.models import as_utc, utcnow
from gateway.settings import GatewaySettings
from pilnveide_kit.db import session_scope
from pilnveide_kit.errors import Conflict, NotFound


class ClientNotFound(NotFound):
    """No client with this id."""

    slug = "client-not-found"


class ClientExists(Conflict):
    """A client with this id is already registered."""

    slug = "client-exists"


@dataclass(frozen=True)
class ClientGrant:
    """What an authenticated client may receive in a token."""

    client_id: str
    scopes: tuple[str, ...]
    institutions: tuple[str, ...] | None
    resort: str | None

    @classmethod
    def of(cls, client: ApiClient) -> ClientGrant:
        """The grant of a stored client."""
        return cls(
            client_id=client.client_id,
            scopes=tuple(client.scopes),
            institutions=tuple(client.institutions) if client.institutions is not None else None,
            resort=client.resort,
        )


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
) -> Sequence[ApiClient]:
    """Up to limit+1 clients ordered by id, after a cursor id."""
    query = select(ApiClient).order_by(col(ApiClient.client_id)).limit(limit + 1)
    if after is not None:
        query = query.where(col(ApiClient.client_id) > after)
    if active is not None:
        query = query.where(col(ApiClient.active) == active)
    return session.exec(query).all()


def set_active(session: Session, client_id: str, active: bool) -> ApiClient:
    """Activate or deactivate a client (its tokens stop working at the gateway at once)."""
    client = get_client(session, client_id)
    if client.active != active:
        client.active = active
        client.updated_at = utcnow()
        session.add(client)
        session.flush()
    return client


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
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.secret_hash = hasher.hash(secret)
    client.secret_rotated_at = now
    client.updated_at = now
    session.add(client)
    session.flush()
    return client, secret


def revoke_previous_secret(session: Session, client_id: str) -> ApiClient:
    """End a rotation early: only the newest secret works from now on."""
    client = get_client(session, client_id)
    if client.previous_secret_hash is not None:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
        client.updated_at = utcnow()
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
        changed = True
    if client.scopes != scopes or client.institutions is not None or client.resort:
        client.scopes, client.institutions, client.resort = scopes, None, None
        changed = True
    if not client.active:
        client.active = True
        changed = True
    if changed:
        client.updated_at = now
        session.add(client)
        session.flush()
    return "updated" if changed else "unchanged"


class ClientDirectory:
    """Fast answers for every request: is a client active, are these Basic credentials good.

    Both answers are cached briefly (settings client_status_cache_s, credential_cache_s) so the
    gateway does not query the database or run Argon2 on every request; changes made through
    this process's admin API invalidate the cache at once.
    """

    def __init__(self, engine: Engine, hasher: SecretHasher, settings: GatewaySettings) -> None:
        self.engine = engine
        self.hasher = hasher
        self.settings = settings
        self._lock = threading.Lock()
        self._status: dict[str, tuple[float, bool, datetime | None]] = {}
        self._credentials: dict[tuple[str, str], tuple[float, ClientGrant, datetime | None]] = {}

    def _state(self, client_id: str) -> tuple[bool, datetime | None]:
        now = time.monotonic()
        with self._lock:
            cached = self._status.get(client_id)
        if cached and now - cached[0] < self.settings.client_status_cache_s:
            return cached[1], cached[2]
        with session_scope(self.engine) as session:
            client = session.get(ApiClient, client_id)
            state = (bool(client and client.active), client.updated_at if client else None)
        with self._lock:
            if len(self._status) > 10_000:
                self._status.clear()
            self._status[client_id] = (now, *state)
        return state

    def is_active(self, client_id: str) -> bool:
        """Whether the client exists and is active (cached briefly)."""
        return self._state(client_id)[0]

    def check_basic(self, client_id: str, secret: str) -> ClientGrant | None:
        """The grant for HTTP Basic credentials, None when they are not valid."""
        key = (client_id, sha256(secret.encode()).hexdigest())
        now = time.monotonic()
        with self._lock:
            cached = self._credentials.get(key)
        if cached and now - cached[0] < self.settings.credential_cache_s:
            active, updated_at = self._state(client_id)
            if active and updated_at == cached[2]:
                return cached[1]
        with session_scope(self.engine) as session:
            client = authenticate_client(session, self.hasher, client_id, secret)
            if client is None:
                return None
            grant, updated_at = ClientGrant.of(client), client.updated_at
        with self._lock:
            if len(self._credentials) > 10_000:
                self._credentials.clear()
            self._credentials[key] = (now, grant, updated_at)
        return grant

    def invalidate(self, client_id: str) -> None:
        """Forget what is cached about a client (after an admin change)."""
        with self._lock:
            self._status.pop(client_id, None)
            for key in [k for k in self._credentials if k[0] == client_id]:
                self._credentials.pop(key, None)
