"""Fast answers for every request: is a client's token still good, are these credentials good.

Both answers are cached briefly (settings client_status_cache_s, credential_cache_s) so the
gateway does not query the database or run Argon2 on every request; changes made through this
process's admin API invalidate the cache at once. Nothing is cached for an unknown client id
except through a signed token (which only the gateway can make).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256

from sqlalchemy.engine import Engine

from gateway.clients.models import ApiClient, limit_of
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ClientGrant, authenticate_client, epoch_seconds
from gateway.ratelimit import Limits
from gateway.settings import GatewaySettings
from pilnveide_kit.db import session_scope
from pilnveide_kit.revocations import ClientRevocation

MAX_CACHED = 10_000


@dataclass(frozen=True)
class ClientStatus:
    """What each request needs to know of its client, cached briefly."""

    revocation: ClientRevocation
    updated_at: datetime | None = None
    #: The client's own (requests per second, burst); None: the gateway's defaults.
    limits: Limits | None = None


UNKNOWN = ClientStatus(ClientRevocation(active=False))


def _status_of(client: ApiClient | None) -> ClientStatus:
    if client is None:
        return UNKNOWN
    limit = limit_of(client)
    return ClientStatus(
        revocation=ClientRevocation(
            active=client.active, not_before=epoch_seconds(client.tokens_not_before)
        ),
        updated_at=client.updated_at,
        limits=(limit.per_s, limit.burst) if limit is not None else None,
    )


class ClientDirectory:
    """The registry as requests see it (see the module)."""

    def __init__(self, engine: Engine, hasher: SecretHasher, settings: GatewaySettings) -> None:
        self.engine = engine
        self.hasher = hasher
        self.settings = settings
        self._lock = threading.Lock()
        self._status: dict[str, tuple[float, ClientStatus]] = {}
        self._credentials: dict[tuple[str, str], tuple[float, ClientGrant, datetime | None]] = {}

    def fresh(self, client_id: str) -> ClientStatus | None:
        """The cached status when it is younger than client_status_cache_s (no I/O: callable
        on the event loop), else None."""
        cached = self._status.get(client_id)
        if cached and time.monotonic() - cached[0] < self.settings.client_status_cache_s:
            return cached[1]
        return None

    def status(self, client_id: str) -> ClientStatus:
        """The client's status, from the cache or the database (blocking)."""
        cached = self.fresh(client_id)
        if cached is not None:
            return cached
        now = time.monotonic()
        with session_scope(self.engine) as session:
            state = _status_of(session.get(ApiClient, client_id))
        with self._lock:
            if len(self._status) > MAX_CACHED:
                self._status.clear()
            self._status[client_id] = (now, state)
        return state

    def entry(self, client_id: str) -> ClientRevocation:
        """What is revoked of a client's tokens; an unregistered client counts as inactive.

        The gateway's token verifier consults this (a RevocationSource), so every route that
        takes a token, /admin/** included, refuses a deactivated client's or a cut-off token.
        """
        return self.status(client_id).revocation

    def known_limits(self, client_id: str) -> tuple[bool, Limits | None]:
        """Whether a client id is registered, and its own limits (asked of the database)."""
        with session_scope(self.engine) as session:
            client = session.get(ApiClient, client_id)
            return client is not None, _status_of(client).limits

    def authenticate(self, client_id: str, secret: str) -> ClientGrant | None:
        """The grant for a client's id and secret, None when they are not valid (uncached)."""
        with session_scope(self.engine) as session:
            client = authenticate_client(session, self.hasher, client_id, secret)
            return None if client is None else ClientGrant.of(client)

    def cached_basic(self, client_id: str, secret: str) -> ClientGrant | None:
        """The grant of HTTP Basic credentials verified within credential_cache_s and unchanged
        since, else None (no Argon2 work)."""
        key = (client_id, sha256(secret.encode()).hexdigest())
        with self._lock:
            cached = self._credentials.get(key)
        if cached and time.monotonic() - cached[0] < self.settings.credential_cache_s:
            status = self.status(client_id)
            if status.revocation.active and status.updated_at == cached[2]:
                return cached[1]
        return None

    def check_basic(self, client_id: str, secret: str) -> ClientGrant | None:
        """The grant for HTTP Basic credentials, None when they are not valid (cached)."""
        cached = self.cached_basic(client_id, secret)
        if cached is not None:
            return cached
        key = (client_id, sha256(secret.encode()).hexdigest())
        now = time.monotonic()
        with session_scope(self.engine) as session:
            client = authenticate_client(session, self.hasher, client_id, secret)
            if client is None:
                return None
            grant, updated_at = ClientGrant.of(client), client.updated_at
        with self._lock:
            if len(self._credentials) > MAX_CACHED:
                self._credentials.clear()
            self._credentials[key] = (now, grant, updated_at)
        return grant

    def invalidate(self, client_id: str) -> None:
        """Forget what is cached about a client (after an admin change)."""
        with self._lock:
            self._status.pop(client_id, None)
            for key in [k for k in self._credentials if k[0] == client_id]:
                self._credentials.pop(key, None)
