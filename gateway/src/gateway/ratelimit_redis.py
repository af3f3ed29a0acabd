"""Token buckets shared by every gateway replica, in Redis (GATEWAY_RATE_LIMIT_REDIS_URL).

One Lua script takes a token atomically: it reads the bucket, refills it for the time passed
by the Redis server's clock (so the replicas' clocks never disagree), takes one token or says
how long to wait, and stores the bucket with an expiry (a full bucket holds nothing worth
keeping). Two replicas asking at the same instant are served one after the other by Redis.

When Redis cannot answer (down, unreachable, slower than rate_limit_redis_timeout_s), the
request is not refused and never fails: the limiter logs a warning and uses this replica's own
in-process buckets, as a gateway without Redis does, for rate_limit_redis_retry_s; then it asks
Redis again. While Redis is away a client can get up to its rate from each replica.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.ratelimit import Limits, RateLimiter

log = logging.getLogger("pilnveide.ratelimit")

#: Every bucket's key starts so: one Redis can serve other things too.
KEY_PREFIX = "pilnveide:gateway:bucket:"

#: KEYS[1]: the bucket; ARGV: rate (tokens a second), burst. Returns the seconds to wait as a
#: string (a Lua number returned as such would be cut to an integer), "0" when a token was taken.
TAKE_ONE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class SharedRateLimiter(RateLimiter):
    """RateLimiter whose buckets are in Redis, shared by every replica (see the module)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        url: str,
        *,
        timeout_s: float = 0.05,
        retry_s: float = 5.0,
    ) -> None:
        super().__init__(rate, burst)
        self.retry_s = retry_s
        self.redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # Never sent twice: a script that ran but timed out would take a second token.
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._take = self.redis.register_script(TAKE_ONE_SCRIPT)
        self._away_until = 0.0
        self._away_lock = threading.Lock()

    def wait_time(self, key: str, now: float | None = None, own: Limits | None = None) -> float:
        """Take one token for key from the shared bucket; 0 when allowed, else seconds until
        one is available. A given `now` (tests of the bucket arithmetic) uses the in-process
        buckets, as does a Redis that cannot answer (see the module)."""
        if now is not None or time.monotonic() < self._away_until:
            return super().wait_time(key, now, own)
        rate, burst = self.limits(own)
        try:
            answer = self._take(keys=[KEY_PREFIX + key], args=[rate, burst])
        except redis.RedisError as exc:
            self._redis_away(exc)
            return super().wait_time(key, None, own)
        return max(0.0, float(answer))

    def _redis_away(self, exc: Exception) -> None:
        with self._away_lock:
            if time.monotonic() < self._away_until:
                return
            self._away_until = time.monotonic() + self.retry_s
        log.warning(
            "rate-limit store unreachable; this replica limits on its own for %.0f s",
            self.retry_s,
            extra={"error": type(exc).__name__},
        )

    def close(self) -> None:
        """Close the connections to Redis."""
        self.redis.close()


def rate_limiter(
    rate: float, burst: int, redis_url: str | None, *, timeout_s: float, retry_s: float
) -> RateLimiter:
    """The in-process limiter, or the shared one when a Redis URL is set."""
    if not redis_url:
        return RateLimiter(rate, burst)
    return SharedRateLimiter(rate, burst, redis_url, timeout_s=timeout_s, retry_s=retry_s)
