"""Per-client token buckets: a sustained rate with a burst, answered with 429 and Retry-After.

By default the buckets live in the gateway process (RateLimiter): with several gateway
replicas each would enforce the limit on its own share of the traffic. With
GATEWAY_RATE_LIMIT_REDIS_URL set, the buckets live in Redis (SharedRateLimiter, in
ratelimit_redis.py): every replica takes from the same bucket, so a client gets its rate once,
however many replicas serve it.
"""

from __future__ import annotations

import math
import threading
import time

from pilnveide_kit.errors import TooManyRequests

MAX_BUCKETS = 50_000


class RateLimited(TooManyRequests):
    """The client sent more requests than its rate allows."""

    slug = "rate-limited"


#: A bucket's (requests per second, burst).
Limits = tuple[float, float]


class RateLimiter:
    """Token bucket per key: `rate` tokens a second, at most `burst` saved up, unless a call
    names other limits (a client's own, from the registry)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        #: key → (tokens, last refill, rate, burst)
        self._buckets: dict[str, tuple[float, float, float, float]] = {}
        self._lock = threading.Lock()

    def limits(self, own: Limits | None = None) -> Limits:
        """The rate and burst of a bucket: its own, else the defaults."""
        return (float(own[0]), float(own[1])) if own is not None else (self.rate, self.burst)

    def wait_time(self, key: str, now: float | None = None, own: Limits | None = None) -> float:
        """Take one token for key; 0 when allowed, else seconds until one is available."""
        moment = time.monotonic() if now is None else now
        rate, burst = self.limits(own)
        with self._lock:
            tokens, last, _rate, _burst = self._buckets.get(key, (burst, moment, rate, burst))
            # A limit changed since the last request applies from now on (never above the burst).
            tokens = min(burst, tokens + (moment - last) * rate)
            if tokens >= 1.0:
                self._remember(key, (tokens - 1.0, moment, rate, burst))
                return 0.0
            self._remember(key, (tokens, moment, rate, burst))
            return (1.0 - tokens) / rate

    def _remember(self, key: str, bucket: tuple[float, float, float, float]) -> None:
        if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            # Forget buckets that have refilled: they hold no state worth keeping.
            moment = bucket[1]
            full = [
                k
                for k, (t, last, rate, burst) in self._buckets.items()
                if t + (moment - last) * rate >= burst
            ]
            for k in full:
                del self._buckets[k]
        self._buckets[key] = bucket

    def check(self, key: str, own: Limits | None = None) -> None:
        """Raise RateLimited (429, Retry-After) when key has no token left."""
        wait = self.wait_time(key, own=own)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise RateLimited(
                f"Too many requests; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
                retry_after_s=retry_after,
            )
