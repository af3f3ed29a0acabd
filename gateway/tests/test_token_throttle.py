"""Wrong secrets meet 429 with Retry-After, per registered client id and per source address;
unknown client ids allocate nothing; Argon2 runs a bounded number at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.clients.secrets import SecretHasher
from gateway.settings import GatewaySettings
from gateway.tokens.throttle import CredentialGuard, FailureThrottle

Register = Callable[..., tuple[str, str]]
AppFactory = Callable[..., FastAPI]
FORM = {"grant_type": "client_credentials"}


@pytest.fixture
def throttled(
    make_app: AppFactory, settings: GatewaySettings
) -> Iterator[tuple[TestClient, CredentialGuard]]:
    """A gateway allowing 3 wrong secrets per client id and 5 per address."""
    strict = settings.model_copy(
        update={
            "token_failures_per_client": 3,
            "token_failures_per_address": 5,
            "token_failure_refill_s": 600.0,
        }
    )
    with TestClient(make_app(strict)) as client:
        yield client, client.app.state.credential_guard  # type: ignore[attr-defined]


def test_wrong_secrets_for_one_client_id_meet_429(
    throttled: tuple[TestClient, CredentialGuard], register: Register
) -> None:
    client, _guard = throttled
    client_id, secret = register(name="LMS", scopes=["records:read"])
    wrong = [client.post("/auth/token", data=FORM, auth=(client_id, "nope")) for _ in range(3)]
    assert [a.status_code for a in wrong] == [401, 401, 401]
    refused = client.post("/auth/token", data=FORM, auth=(client_id, "nope"))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("too-many-failed-attempts")
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    # Locked out for now, even with the right secret: the attacker learns nothing either way.
    assert client.post("/auth/token", data=FORM, auth=(client_id, secret)).status_code == 429


def test_right_secrets_cost_no_allowance(
    throttled: tuple[TestClient, CredentialGuard], register: Register
) -> None:
    client, _guard = throttled
    client_id, secret = register(name="LMS", scopes=["records:read"])
    for _ in range(8):
        assert client.post("/auth/token", data=FORM, auth=(client_id, secret)).status_code == 200
    assert client.post("/auth/token", data=FORM, auth=(client_id, "nope")).status_code == 401


def test_wrong_secrets_from_one_address_meet_429_across_client_ids(
    throttled: tuple[TestClient, CredentialGuard], register: Register
) -> None:
    client, _guard = throttled
    ids = [register(name=f"c{i}", scopes=["records:read"])[0] for i in range(3)]
    statuses = []
    for attempt in range(5):
        answer = client.post("/auth/token", data=FORM, auth=(ids[attempt % 3], "nope"))
        statuses.append(answer.status_code)
    assert statuses == [401] * 5
    refused = client.post("/auth/token", data=FORM, auth=(ids[0], "nope"))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_unknown_client_ids_are_throttled_by_address_and_allocate_nothing(
    throttled: tuple[TestClient, CredentialGuard],
) -> None:
    client, guard = throttled
    statuses = [
        client.post("/auth/token", data=FORM, auth=(f"ghost-{n}", "nope")).status_code
        for n in range(20)
    ]
    assert statuses == [401] * 5 + [429] * 15
    assert len(guard.by_client) == 0  # no per-id state for ids nobody registered
    assert len(guard.by_address) == 1
    assert not any(k.startswith("client:ghost") for k in guard.rate_limiter._buckets)


def test_wrong_basic_credentials_on_xapi_are_throttled_too(
    throttled: tuple[TestClient, CredentialGuard], register: Register
) -> None:
    client, _guard = throttled
    client_id, _secret = register(name="LRS", scopes=["xapi:write"])
    statuses = [
        client.get("/xapi/statements", auth=(client_id, "nope")).status_code for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_failure_allowance_refills_with_time() -> None:
    now = [0.0]
    throttle = FailureThrottle(limit=2, refill_s=10.0, clock=lambda: now[0])
    assert throttle.take("k") == 0 and throttle.take("k") == 0
    assert throttle.take("k") == pytest.approx(10.0)
    now[0] = 5.0
    assert throttle.retry_after("k") == pytest.approx(5.0)
    now[0] = 10.0
    assert throttle.take("k") == 0
    throttle.give_back("k")
    throttle.give_back("k")
    assert len(throttle) == 0  # full again: forgotten


class _ParkedHasher:
    """Stands in for argon2's PasswordHasher: every verification waits until released."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return str(self.inner.hash(secret))

    def verify(self, encoded: str, secret: str) -> bool:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            self.release.wait(timeout=30)
            return bool(self.inner.verify(encoded, secret))
        finally:
            with self.lock:
                self.running -= 1


def test_argon2_runs_a_bounded_number_at_a_time(settings: GatewaySettings) -> None:
    hasher = SecretHasher(settings.model_copy(update={"argon2_max_concurrent": 2}))
    encoded = hasher.hash("right")
    parked = _ParkedHasher(hasher._hasher)
    hasher._hasher = parked  # type: ignore[assignment]
    threads = [threading.Thread(target=hasher.verify, args=(encoded, "wrong")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for _ in range(500):  # until two verifications are parked inside (bounded wait)
        if parked.running == 2:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # room for a third to get in, were there no bound
    assert parked.running == 2 and parked.peak == 2
    parked.release.set()
    for thread in threads:
        thread.join()
    assert parked.peak == 2
