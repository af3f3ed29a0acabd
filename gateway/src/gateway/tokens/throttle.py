"""Secret checks under protection: wrong secrets are throttled, Argon2 work is bounded.

Every check of a client secret (`POST /auth/token`, HTTP Basic on /xapi) passes through
`CredentialGuard.check`:

1. the source address must have failures left (else 429 at once: no database, no hashing);
2. only a *registered* client id gets a failure allowance of its own (an unknown id allocates
   nothing: it is throttled by address alone) and a request-rate bucket;
3. one failure is taken from each allowance *before* the secret is checked and given back if
   the secret is right, so concurrent wrong attempts cannot all slip past the count;
4. the check waits for one of `argon2_max_concurrent` slots without holding a thread (503 with
   Retry-After after `argon2_wait_s`), so memory stays flat however many attempts arrive.

Unknown ids cost one Argon2 verification as wrong secrets do (clients.service._Timing).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import anyio
from starlette.concurrency import run_in_threadpool

from gateway.clients.directory import ClientDirectory
from gateway.clients.service import ClientGrant
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from pilnveide_kit.errors import ServiceUnavailable, TooManyRequests

MAX_KEYS = 100_000


class TooManyFailures(TooManyRequests):
    """Too many wrong secrets for this client id or from this address."""

    slug = "too-many-failed-attempts"


class CredentialCheckBusy(ServiceUnavailable):
    """Every hashing slot stayed busy for argon2_wait_s."""

    slug = "credential-check-busy"


class FailureThrottle:
    """Per key, `limit` failures in a row, one more every `refill_s` seconds (a token bucket
    of failure allowances). At most MAX_KEYS keys: the least recently used go first."""

    def __init__(self, limit: int, refill_s: float, clock: Callable[[], float] = time.monotonic):
        self.limit = float(limit)
        self.refill_s = refill_s
        self._clock = clock
        self._allowances: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _left(self, key: str, now: float) -> float:
        allowance, at = self._allowances.get(key, (self.limit, now))
        return min(self.limit, allowance + (now - at) / self.refill_s)

    def retry_after(self, key: str) -> float:
        """0 when key may try now, else seconds until it may (reads, never allocates)."""
        with self._lock:
            left = self._left(key, self._clock())
        return 0.0 if left >= 1.0 else (1.0 - left) * self.refill_s

    def take(self, key: str) -> float:
        """Take one failure allowance: 0 when taken, else seconds to wait (nothing taken)."""
        now = self._clock()
        with self._lock:
            left = self._left(key, now)
            if left < 1.0:
                return (1.0 - left) * self.refill_s
            self._allowances[key] = (left - 1.0, now)
            self._allowances.move_to_end(key)
            while len(self._allowances) > MAX_KEYS:
                self._allowances.popitem(last=False)
            return 0.0

    def give_back(self, key: str) -> None:
        """Return an allowance taken for an attempt that turned out right."""
        now = self._clock()
        with self._lock:
            if key in self._allowances:
                left = self._left(key, now) + 1.0
                if left >= self.limit:
                    del self._allowances[key]  # full again: nothing worth keeping
                else:
                    self._allowances[key] = (left, now)

    def __len__(self) -> int:
        return len(self._allowances)


def _refuse(wait_s: float) -> TooManyFailures:
    retry_after = max(1, math.ceil(wait_s))
    return TooManyFailures(
        f"Too many wrong credentials; retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        retry_after_s=retry_after,
    )


Check = Callable[[str, str], ClientGrant | None]


class CredentialGuard:
    """The one way a client secret is checked on a request (see the module)."""

    def __init__(
        self,
        settings: GatewaySettings,
        directory: ClientDirectory,
        rate_limiter: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.rate_limiter = rate_limiter
        self.by_client = FailureThrottle(
            settings.token_failures_per_client, settings.token_failure_refill_s, clock
        )
        self.by_address = FailureThrottle(
            settings.token_failures_per_address, settings.token_failure_refill_s, clock
        )
        self.wait_s = settings.argon2_wait_s
        self._slots = anyio.Semaphore(settings.argon2_max_concurrent)

    async def check(
        self, client_id: str, secret: str, address: str, check: Check
    ) -> ClientGrant | None:
        """The grant when the secret is right, None when not; 429 or 503 as the module says."""
        address_key = f"address:{address}"
        wait = self.by_address.retry_after(address_key)
        if wait > 0:
            raise _refuse(wait)
        known, limits = await run_in_threadpool(self.directory.known_limits, client_id)
        client_key = f"client:{client_id}"
        if known:
            self.rate_limiter.check(client_key, limits)
            wait = self.by_client.retry_after(client_key)
            if wait > 0:
                raise _refuse(wait)
        wait = self.by_address.take(address_key)
        if wait > 0:
            raise _refuse(wait)
        if known:
            wait = self.by_client.take(client_key)
            if wait > 0:
                self.by_address.give_back(address_key)
                raise _refuse(wait)
        grant, answered = None, False
        try:
            grant = await self._bounded(check, client_id, secret)
            answered = True
        finally:
            # Right secrets, and checks that never happened (busy, errors), cost nothing.
            if grant is not None or not answered:
                self.by_address.give_back(address_key)
                if known:
                    self.by_client.give_back(client_key)
        return grant

    async def _bounded(self, check: Check, client_id: str, secret: str) -> ClientGrant | None:
        with anyio.move_on_after(self.wait_s) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            raise CredentialCheckBusy(
                "Too many credential checks at once; try again shortly",
                headers={"Retry-After": "5"},
            )
        try:
            return await run_in_threadpool(check, client_id, secret)
        finally:
            self._slots.release()
