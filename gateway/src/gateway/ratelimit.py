"""Per-client token buckets: a sustained rate with a burst, answered with 429 and Retry-After.

Buckets live in the gateway process: with several gateway instances each enforces the limit
on its own share of the traffic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping

from pilnveide_kit.errors import TooManyRequests

MAX_BUCKETS = 50_000


class RateLimited(TooManyRequests):
    """The client sent more requests than its rate allows."""

    slug = "rate-limited"


class RateLimiter:
    """Token bucket per key: `rate` tokens a second, at most `burst` saved up (overrides: other
    (rate, burst) pairs for some keys)."""

    def __init__(
        self, rate: float, burst: int, overrides: Mapping[str, tuple[float, int]] | None = None
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._overrides = {k: (float(r), float(b)) for k, (r, b) in (overrides or {}).items()}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def limits(self, key: str) -> tuple[float, float]:
        """The rate and burst of key's bucket."""
        return self._overrides.get(key, (self.rate, self.burst))

    def wait_time(self, key: str, now: float | None = None) -> float:
        """Take one token for key; 0 when allowed, else seconds until one is available."""
        moment = time.monotonic() if now is None else now
        rate, burst = self.limits(key)
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, moment))
            tokens = min(burst, tokens + (moment - last) * rate)
            if tokens >= 1.0:
                self._remember(key, tokens - 1.0, moment)
                return 0.0
            self._remember(key, tokens, moment)
            return (1.0 - tokens) / rate

    def _remember(self, key: str, tokens: float, moment: float) -> None:
        if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            # Forget buckets that have refilled: they hold no state worth keeping.
            full = [
                k
                for k, (t, last) in self._buckets.items()
                if t + (moment - last) * self.limits(k)[0] >= self.limits(k)[1]
            ]
            for k in full:
                del self._buckets[k]
        self._buckets[key] = (tokens, moment)

    def check(self, key: str) -> None:
        """Raise RateLimited (429, Retry-After) when key has no token left."""
        wait = self.wait_time(key)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"Too many requests; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
                retry_after_s=retry_after,
            )
