"""Rate limits shared by gateway replicas through Redis (GATEWAY_RATE_LIMIT_REDIS_URL).

Against the Redis on 127.0.0.1:6379 (PILNVEIDE_TEST_REDIS_URL): two limiters, or two gateway
apps, on one Redis stand for two replicas. Skipped where no Redis answers, except in CI.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimiter
from gateway.ratelimit_redis import KEY_PREFIX, SharedRateLimiter, rate_limiter
from gateway.settings import GatewaySettings
from pilnveide_kit.testing import free_port

from .conftest import AppFactory, GetToken, Register

REDIS_URL = os.environ.get("PILNVEIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis; the buckets a test made are deleted afterwards."""
    connection = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        connection.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (set PILNVEIDE_TEST_REDIS_URL)")
    before = set(connection.scan_iter(KEY_PREFIX + "*"))
    yield REDIS_URL
    made = set(connection.scan_iter(KEY_PREFIX + "*")) - before
    if made:
        connection.delete(*made)
    connection.close()


def unreachable_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_two_replicas_take_from_one_bucket(redis_url: str) -> None:
    first = SharedRateLimiter(0.001, 3, redis_url)
    second = SharedRateLimiter(0.001, 3, redis_url)
    key = f"client:{uuid.uuid4().hex}"
    waits = [limiter.wait_time(key) for limiter in (first, second, first, second, first)]
    assert waits[:3] == [0, 0, 0]
    # Burst of 3 spent across both: each replica now refuses, saying the same wait (~1000 s).
    assert 990 < waits[3] <= 1000
    assert 990 < waits[4] <= 1000
    # Another client has a bucket of its own.
    assert second.wait_time(f"client:{uuid.uuid4().hex}") == 0


def test_a_clients_own_limits_apply_in_the_shared_bucket(redis_url: str) -> None:
    limiter = SharedRateLimiter(0.001, 1, redis_url)
    key = f"client:{uuid.uuid4().hex}"
    own = (0.001, 4.0)
    assert [limiter.wait_time(key, own=own) for _ in range(5)][:4] == [0, 0, 0, 0]
    assert limiter.wait_time(key, own=own) > 0
    # Lowered below what is saved up: the bucket holds at most the new burst (1), spent already.
    assert limiter.wait_time(key) > 0


def test_the_bucket_expires_once_full_again(redis_url: str) -> None:
    limiter = SharedRateLimiter(10.0, 5, redis_url)
    key = f"client:{uuid.uuid4().hex}"
    assert limiter.wait_time(key) == 0
    # One token taken at 10/s: full again in 0.1 s; kept 1 s beyond, never forever.
    ttl_ms = limiter.redis.pttl(KEY_PREFIX + key)
    assert 0 < ttl_ms <= 1100


def test_redis_down_falls_back_to_the_replicas_own_buckets_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = SharedRateLimiter(0.001, 2, unreachable_url(), retry_s=5.0)
    clock = [1000.0]
    monkeypatch.setattr("gateway.ratelimit_redis.time.monotonic", lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="pilnveide.ratelimit"):
        waits = [limiter.wait_time("client:a") for _ in range(3)]
    # Limited all the same, in process: 2 allowed, then a wait; never an exception.
    assert waits[:2] == [0, 0]
    assert waits[2] > 0
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request
    assert warnings[0].error == "ConnectionError"  # type: ignore[attr-defined]

    # After retry_s, Redis is asked again (still down: one more warning).
    caplog.clear()
    clock[0] += 6.0
    with caplog.at_level(logging.WARNING, logger="pilnveide.ratelimit"):
        limiter.wait_time("client:a")
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


def test_redis_back_is_used_again_after_the_retry_interval(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = SharedRateLimiter(0.001, 1, redis_url, retry_s=5.0)
    other = SharedRateLimiter(0.001, 1, redis_url)
    key = f"client:{uuid.uuid4().hex}"
    clock = [1000.0]
    monkeypatch.setattr("gateway.ratelimit_redis.time.monotonic", lambda: clock[0])
    limiter._redis_away(redis.ConnectionError("gone"))  # as after a failed call
    assert limiter.wait_time(key) == 0  # in process: Redis's bucket untouched
    assert other.wait_time(key) == 0  # the shared bucket still had its token
    clock[0] += 6.0
    assert limiter.wait_time(key) > 0  # shared again: the other replica took the token


def test_no_url_means_in_process_buckets() -> None:
    assert type(rate_limiter(1.0, 1, None, timeout_s=0.05, retry_s=5.0)) is RateLimiter
    assert type(rate_limiter(1.0, 1, "", timeout_s=0.05, retry_s=5.0)) is RateLimiter
    shared = rate_limiter(1.0, 1, REDIS_URL, timeout_s=0.05, retry_s=5.0)
    assert isinstance(shared, SharedRateLimiter)
    assert GatewaySettings().rate_limit_redis_url is None


def test_two_gateway_replicas_share_a_clients_rate(
    redis_url: str,
    make_app: AppFactory,
    settings: GatewaySettings,
    register: Register,
    get_token: GetToken,
) -> None:
    shared = settings.model_copy(
        update={"rate_limit_per_s": 0.001, "rate_limit_burst": 4, "rate_limit_redis_url": redis_url}
    )
    client_id, secret = register(name="an LMS", scopes=["catalog:read"])
    with (
        TestClient(make_app(shared)) as replica_a,
        TestClient(make_app(shared)) as replica_b,
    ):
        token = get_token(replica_a, client_id, secret)  # takes one token of the bucket
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            replica.get("/catalog/x", headers=headers)
            for replica in (replica_a, replica_b, replica_a, replica_b)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 900


def test_a_gateway_whose_redis_is_down_still_answers_and_limits(
    make_app: AppFactory,
    settings: GatewaySettings,
    register: Register,
    get_token: GetToken,
) -> None:
    down = settings.model_copy(
        update={
            "rate_limit_per_s": 0.001,
            "rate_limit_burst": 3,
            "rate_limit_redis_url": unreachable_url(),
        }
    )
    client_id, secret = register(name="an LMS", scopes=["catalog:read"])
    with TestClient(make_app(down)) as gateway:
        headers = {"Authorization": f"Bearer {get_token(gateway, client_id, secret)}"}
        statuses = [gateway.get("/catalog/x", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
