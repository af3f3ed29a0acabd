"""Per-client rate limits: an operator gives one client (an LMS, say) a bucket of its own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimiter
from gateway.settings import ClientRateLimit, GatewaySettings

from .conftest import AppFactory, GetToken, Register


def test_a_client_with_its_own_bucket_gets_its_rate() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, overrides={"client:lms": (10.0, 3)})
    assert [limiter.wait_time("client:lms", now=0.0) for _ in range(4)] == [0, 0, 0, 0.1]
    assert limiter.wait_time("client:other", now=0.0) == 0
    assert limiter.wait_time("client:other", now=0.0) == pytest.approx(1.0)
    assert limiter.limits("client:lms") == (10.0, 3.0)
    assert limiter.limits("client:other") == (1.0, 1.0)


def test_the_setting_is_a_json_object_of_client_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_CLIENTS", '{"lms-1": {"per_s": 200, "burst": 2000}}')
    limits = GatewaySettings().rate_limit_clients
    assert limits["lms-1"].per_s == 200 and limits["lms-1"].burst == 2000
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_CLIENTS", '{"lms-1": {"per_s": 0, "burst": 1}}')
    with pytest.raises(ValueError, match="per_s"):
        GatewaySettings()


def test_only_the_configured_client_passes_the_common_limit(
    make_app: AppFactory, settings: GatewaySettings, register: Register, get_token: GetToken
) -> None:
    lms_id, lms_secret = register(name="an LMS", scopes=["catalog:read"])
    other_id, other_secret = register(name="a partner", scopes=["catalog:read"])
    limited = settings.model_copy(
        update={
            "rate_limit_per_s": 0.01,
            "rate_limit_burst": 3,
            "rate_limit_clients": {lms_id: ClientRateLimit(per_s=0.01, burst=10)},
        }
    )
    with TestClient(make_app(limited)) as client:
        statuses = {}
        for client_id, secret in ((lms_id, lms_secret), (other_id, other_secret)):
            headers = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
            statuses[client_id] = [
                client.get("/catalog/x", headers=headers).status_code for _ in range(5)
            ]
    # The token request takes one token of each bucket.
    assert statuses[lms_id] == [200] * 5
    assert statuses[other_id] == [200, 200, 429, 429, 429]
