"""What passes the gateway: tokens, Basic on /xapi, rate limits, body size limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from pilnveide_kit.testing import TokenFactory

Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]
AppFactory = Callable[..., FastAPI]


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@pytest.mark.parametrize("path", ["/healthz", "/version", "/.well-known/jwks.json", "/docs"])
def test_public_paths_need_no_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path", ["/catalog", "/catalog/v1/plans", "/records/v1/people", "/indicators/v1/x", "/xapi/s"]
)
def test_every_proxied_path_needs_a_token(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Bearer" in answer.headers["www-authenticate"]


def test_valid_token_is_forwarded_unchanged(
    client: TestClient, register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="reader", scopes=["catalog:read"])
    token = get_token(client, client_id, secret)
    answer = client.get("/catalog/v1/plans", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.json() == {
        "path": "/v1/plans",
        "authorization": f"Bearer {token}",
        "body_bytes": 0,
    }


def test_forged_and_expired_tokens_stop_at_the_gateway(
    client: TestClient, tokens: TokenFactory
) -> None:
    expired = tokens.token("catalog:read", exp=1, iat=0, nbf=0)
    other_audience = tokens.token("catalog:read", aud="someone-else")
    for token in (expired, other_audience, "not-a-jwt", TokenFactory(kid="x").token("admin")):
        answer = client.get("/catalog/v1/plans", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, token


def test_token_of_an_unregistered_client_is_refused(
    client: TestClient, tokens: TokenFactory
) -> None:
    answer = client.get("/catalog/v1/plans", headers=tokens.headers("admin", client_id="ghost"))
    assert answer.status_code == 401


def test_xapi_accepts_basic_and_forwards_a_minted_bearer_token(
    client: TestClient, register: Register, tokens: TokenFactory, settings: GatewaySettings
) -> None:
    client_id, secret = register(name="LRS feed", scopes=["xapi:write"], institutions=["VAS"])
    answer = client.post("/xapi/statements", json={"verb": "x"}, auth=(client_id, secret))
    assert answer.status_code == 200, answer.text
    forwarded = answer.json()["authorization"]
    assert forwarded.startswith("Bearer ")
    claims = _claims(forwarded.split()[1])
    assert claims["sub"] == client_id and claims["scope"] == "xapi:write"
    assert claims["institutions"] == ["VAS"]
    assert claims["exp"] - claims["iat"] == settings.basic_token_lifetime_s
    assert answer.json()["path"] == "/xapi/statements"


def test_wrong_basic_credentials_are_refused_on_xapi(
    client: TestClient, register: Register
) -> None:
    client_id, secret = register(name="LRS feed", scopes=["xapi:write"])
    wrong = client.get("/xapi/statements", auth=(client_id, secret + "x"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    garbled = client.get("/xapi/statements", headers={"Authorization": "Basic !!!"})
    assert garbled.status_code == 401


def test_basic_is_not_accepted_outside_xapi(client: TestClient, register: Register) -> None:
    client_id, secret = register(name="reader", scopes=["catalog:read"])
    assert client.get("/catalog/v1/plans", auth=(client_id, secret)).status_code == 401


def test_rate_limit_answers_429_with_retry_after(
    make_app: AppFactory, settings: GatewaySettings, register: Register, get_token: GetToken
) -> None:
    limited = settings.model_copy(update={"rate_limit_burst": 3, "rate_limit_per_s": 0.01})
    client_id, secret = register(name="busy", scopes=["catalog:read"])
    with TestClient(make_app(limited)) as client:
        headers = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
        statuses = [client.get("/catalog/x", headers=headers).status_code for _ in range(3)]
        refused = client.get("/catalog/x", headers=headers)
    # The token request used one of the three tokens of the bucket.
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1


def test_token_bucket_refills_at_its_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=2)
    assert limiter.wait_time("a", now=0.0) == 0
    assert limiter.wait_time("a", now=0.0) == 0
    assert limiter.wait_time("a", now=0.0) == pytest.approx(0.5)
    assert limiter.wait_time("b", now=0.0) == 0  # buckets are per client
    assert limiter.wait_time("a", now=0.5) == 0


@pytest.fixture
def small_body_client(
    make_app: AppFactory, settings: GatewaySettings, register: Register, get_token: GetToken
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    limited = settings.model_copy(
        update={"max_request_bytes": 1024, "records_max_request_bytes": 1024}
    )
    client_id, secret = register(name="writer", scopes=["records:write"])
    with TestClient(make_app(limited)) as client:
        yield client, {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}


def test_declared_body_over_the_limit_is_413(
    small_body_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = small_body_client
    answer = client.post("/records/v1/people", content=b"x" * 2000, headers=headers)
    assert answer.status_code == 413
    assert answer.json()["max_bytes"] == 1024


def test_streamed_body_over_the_limit_is_413(
    small_body_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = small_body_client

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 256

    answer = client.post("/records/v1/people", content=chunks(), headers=headers)
    assert answer.status_code == 413


def test_body_under_the_limit_is_streamed_through(
    small_body_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = small_body_client

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"z" * 256

    answer = client.post("/records/v1/people", content=chunks(), headers=headers)
    assert answer.status_code == 200
    assert answer.json()["body_bytes"] == 768


def test_body_limits_are_per_route(
    make_app: AppFactory, settings: GatewaySettings, register: Register, get_token: GetToken
) -> None:
    """/records takes the bulk sizes docs/records.md allows; other routes keep the small limit."""
    limited = settings.model_copy(
        update={"max_request_bytes": 1024, "records_max_request_bytes": 4096}
    )
    client_id, secret = register(name="writer", scopes=["records:write", "catalog:write"])
    with TestClient(make_app(limited)) as client:
        headers = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
        body = b"x" * 2000
        assert client.post("/records/v1/people", content=body, headers=headers).status_code == 200
        refused = client.post("/catalog/v1/courses", content=body, headers=headers)
        assert refused.status_code == 413
        assert refused.json()["max_bytes"] == 1024
        too_big = client.post("/records/v1/people", content=b"x" * 5000, headers=headers)
        assert too_big.status_code == 413
        assert too_big.json()["max_bytes"] == 4096
