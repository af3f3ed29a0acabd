"""Bearer tokens verified once, then remembered until they expire.

Verifying a token (RS256 signature, issuer, audience, times) is the same work for every request
that carries it, so the gateway keeps each result until the token's exp. The cache is keyed by
the whole token, never its id alone: a forged token that copies a known jti has another
signature, so it is not found and is verified (and refused) like any other. What can change
while a token lives — its client deactivated, its tokens revoked, its rate limit — is not
cached here but read from the client's status (ClientDirectory, client_status_cache_s) on every
request, so a revocation still takes effect as before.

On a hit, nothing blocks: the request is admitted on the event loop, without a thread hop.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from gateway.clients.directory import ClientDirectory, ClientStatus
from pilnveide_kit.auth import Principal, TokenVerifier

#: At most this many tokens are remembered; beyond, the cache starts again empty.
MAX_TOKENS = 20_000


@dataclass(frozen=True)
class Admitted:
    """A verified token's principal and its client's current status."""

    principal: Principal
    status: ClientStatus


def _expiry(token: str) -> float:
    """The exp of a token whose signature was verified (0 when it has none)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else 0.0
    except (IndexError, ValueError, AttributeError):
        return 0.0


class VerifiedTokens:
    """Token verification results by token, until expiry (see the module)."""

    def __init__(
        self, verifier: TokenVerifier, directory: ClientDirectory, max_tokens: int = MAX_TOKENS
    ) -> None:
        # The verifier checks the token itself; the client's status is checked here, each time.
        self.verifier = verifier
        self.directory = directory
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, Principal]] = {}

    def _verify(self, token: str) -> Admitted:
        principal = self.verifier.verify(token)
        status = self.directory.status(principal.client_id)
        status.revocation.check(principal.issued_at)
        with self._lock:
            if len(self._tokens) >= self.max_tokens:
                self._tokens.clear()
            self._tokens[token] = (_expiry(token), principal)
        return Admitted(principal, status)

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified before and not yet expired."""
        hit = self._tokens.get(token)
        if hit is None:
            return None
        if hit[0] <= time.time():
            with self._lock:
                self._tokens.pop(token, None)
            return None
        return hit[1]

    async def admit(self, token: str) -> Admitted:
        """The token's principal and its client's status; Unauthorized (401) when the token is
        not valid, expired, or cut off by its client's status."""
        principal = self.remembered(token)
        if principal is None:
            return await run_in_threadpool(self._verify, token)
        status = self.directory.fresh(principal.client_id)
        if status is None:
            status = await run_in_threadpool(self.directory.status, principal.client_id)
        status.revocation.check(principal.issued_at)
        return Admitted(principal, status)
