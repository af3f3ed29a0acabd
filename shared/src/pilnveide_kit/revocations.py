"""Revoked clients: the gateway's revocation view, as every token verifier consults it.

The gateway publishes `GET /auth/revocations`: for each client whose tokens were cut off, the
instant before which its tokens are no longer valid (`not_before`, epoch seconds, compared with
the token's `iat`) and whether it is deactivated. A service fetches the view at most every
`ttl_s` seconds and keeps it in memory. When a refresh fails it keeps the last view it had
(revocations are made at the gateway, so an unreachable gateway can hardly issue new ones) and
tries again after `ttl_s`; a service that never obtained a view refuses tokens with 503 rather
than accept one it cannot check, and each request tries again (one at a time). A service
fetches the view in a background thread from its start and every half TTL (`keep_fresh`), so
its requests neither wait for the gateway nor are refused when it is briefly slow to answer;
a request fetches only when that thread has fallen behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pilnveide_kit.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger("pilnveide.auth")

INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
#: How often the background thread tries while no view was ever obtained.
FIRST_RETRY_S = 0.5


class ClientDeactivated(Unauthorized):
    """The token belongs to a client that is deactivated or no longer registered."""

    slug = "client-deactivated"


class TokenRevoked(Unauthorized):
    """The token was issued before its client's tokens were revoked."""

    slug = "token-revoked"


class RevocationsUnavailable(ServiceUnavailable):
    """The revocation view has never been obtained, so no token can be checked against it."""

    slug = "revocations-unavailable"


@dataclass(frozen=True)
class ClientRevocation:
    """What is revoked of one client: everything while inactive, tokens issued before not_before."""

    active: bool = True
    #: Epoch seconds; tokens whose iat is earlier are refused. None: nothing revoked this way.
    not_before: int | None = None

    def check(self, issued_at: float | None) -> None:
        """Raise ClientDeactivated or TokenRevoked when a token issued at issued_at is cut off."""
        if not self.active:
            raise ClientDeactivated(
                "The token's client is deactivated or unknown", headers=INVALID_TOKEN
            )
        if self.not_before is not None and (issued_at is None or issued_at < self.not_before):
            raise TokenRevoked(
                "The token was issued before its client's tokens were revoked; get a new one",
                headers=INVALID_TOKEN,
            )


class RevocationSource(Protocol):
    """Anything that says what is revoked of a client (None: nothing)."""

    def entry(self, client_id: str) -> ClientRevocation | None:
        """The client's revocation, if any."""
        ...


def parse_view(document: Any) -> dict[str, ClientRevocation]:
    """The entries of a revocation view document; ValueError when it is not one."""
    if not isinstance(document, Mapping) or not isinstance(document.get("clients"), Mapping):
        raise ValueError("not a revocation view: no clients object")
    entries: dict[str, ClientRevocation] = {}
    for client_id, item in document["clients"].items():
        if not isinstance(item, Mapping) or not isinstance(item.get("active", True), bool):
            raise ValueError(f"revocation entry of {client_id!r} is malformed")
        not_before = item.get("not_before")
        if not_before is not None and (
            isinstance(not_before, bool) or not isinstance(not_before, int)
        ):
            raise ValueError(f"not_before of {client_id!r} is not epoch seconds")
        entries[str(client_id)] = ClientRevocation(
            active=bool(item.get("active", True)), not_before=not_before
        )
    return entries


def _http_get_json(url: str, timeout_s: float) -> Any:
    import httpx

    return httpx.get(url, timeout=timeout_s).raise_for_status().json()


class RevocationList:
    """The gateway's revocation view fetched from url, cached for ttl_s seconds (see the module).

    fetch (url, timeout) → document and clock are replaceable for tests.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 5.0,
        timeout_s: float = 2.0,
        fetch: Callable[[str, float], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._fetch = fetch or _http_get_json
        self._clock = clock
        self._view: dict[str, ClientRevocation] | None = None
        self._tried_at: float | None = None
        self._tries = 0  # fetches finished
        self._lock: Any = threading.Lock()

    def _due(self, now: float) -> bool:
        return self._tried_at is None or now - self._tried_at >= self.ttl_s

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        try:
            self._view = parse_view(self._fetch(self.url, self.timeout_s))
        except Exception as exc:  # keep the last view (if any); tried again later
            log.warning(
                "revocation view not refreshed; %s",
                "keeping the last one" if self._view is not None else "none known yet",
                extra={"revocations_url": self.url.split("?", 1)[0], "error": type(exc).__name__},
            )
        finally:
            self._tries += 1

    def _refresh_unless_busy(self, now: float) -> None:
        # Another thread refreshing already: go on with the view there is (one fetch older).
        if self._lock.acquire(blocking=False):
            try:
                self._refresh(now)
            finally:
                self._lock.release()

    def _first_view(self) -> None:
        # With no view yet every check tries, one thread at a time; a thread that waited while
        # another tried takes that try's outcome instead of trying again at once.
        tries = self._tries
        with self._lock:
            if self._view is None and self._tries == tries:
                self._refresh(self._clock())

    def view(self) -> dict[str, ClientRevocation]:
        """The current view, refreshed when older than ttl_s (RevocationsUnavailable: none yet)."""
        if self._view is None:
            self._first_view()
        else:
            now = self._clock()
            if self._due(now):
                self._refresh_unless_busy(now)
        if self._view is None:
            raise RevocationsUnavailable(
                "Tokens cannot be checked for revocation yet; try again shortly",
                headers={"Retry-After": "1"},
            )
        return self._view

    def warm_up(self, within_s: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Fetch the first view, trying every FIRST_RETRY_S for up to within_s seconds (a
        service calls it in a background thread as it starts). True once a view is held."""
        deadline = self._clock() + within_s
        while True:
            try:
                self.view()
                return True
            except RevocationsUnavailable:
                if self._clock() >= deadline:
                    return False
                sleep(FIRST_RETRY_S)

    def keep_fresh(
        self,
        sleep: Callable[[float], None] = time.sleep,
        rounds: int | None = None,
    ) -> None:
        """warm_up, then refresh the view every half TTL (`rounds` times; None: for ever), so
        that requests find a fresh view and never wait for the gateway themselves."""
        self.warm_up(sleep=sleep)
        done = 0
        while rounds is None or done < rounds:
            sleep(max(self.ttl_s / 2, FIRST_RETRY_S))
            self._refresh_unless_busy(self._clock())
            done += 1

    def start_keeping_fresh(self) -> threading.Thread | None:
        """keep_fresh in a daemon thread (it never holds a process open); none with a TTL of 0,
        where every check fetches."""
        if self.ttl_s <= 0:
            return None
        thread = threading.Thread(target=self.keep_fresh, name="revocations", daemon=True)
        thread.start()
        return thread

    def entry(self, client_id: str) -> ClientRevocation | None:
        """The client's revocation in the current view, if any."""
        return self.view().get(client_id)
