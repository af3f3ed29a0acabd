"""CORS: allowed origins get preflights answered before authentication; others get no CORS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.settings import GatewaySettings

from .conftest import AppFactory, cheap_settings

ALLOWED = "http://localhost:5173"


@pytest.fixture
def cors_client(make_app: AppFactory, settings: GatewaySettings) -> Iterator[TestClient]:
    """The gateway allowing the local frontend's origins."""
    configured = settings.model_copy(
        update={"cors_allowed_origins": f"{ALLOWED}, http://127.0.0.1:5173/"}
    )
    with TestClient(make_app(configured), raise_server_exceptions=False) as test_client:
        yield test_client


def _preflight(
    client: TestClient, path: str, origin: str, method: str, headers: str
) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/catalog/v1/measures", "GET", "authorization"),
        ("/records/v1/enrolments/bulk", "POST", "authorization, content-type, idempotency-key"),
        ("/auth/token", "POST", "authorization, content-type"),
        ("/admin/clients", "POST", "authorization, content-type"),
    ],
)
def test_preflight_from_an_allowed_origin_is_answered_before_authentication(
    cors_client: TestClient, path: str, method: str, headers: str
) -> None:
    answer = _preflight(cors_client, path, ALLOWED, method, headers)
    assert answer.status_code == 200, answer.text
    got = answer.headers
    assert got["access-control-allow-origin"] == ALLOWED
    assert method in got["access-control-allow-methods"]
    allowed_headers = got["access-control-allow-headers"].lower()
    for header in headers.split(", "):
        assert header in allowed_headers
    assert "www-authenticate" not in got


def test_second_configured_origin_is_allowed_too(cors_client: TestClient) -> None:
    answer = _preflight(cors_client, "/auth/token", "http://127.0.0.1:5173", "POST", "content-type")
    assert answer.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"


def test_actual_response_carries_the_origin_even_when_refused(cors_client: TestClient) -> None:
    answer = cors_client.get("/catalog/v1/measures", headers={"Origin": ALLOWED})
    # No token: 401, but readable by the browser app so it can show why.
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "WWW-Authenticate" in answer.headers["access-control-expose-headers"]


@pytest.mark.parametrize("path", ["/catalog/v1/measures", "/auth/token"])
def test_preflight_from_another_origin_is_refused(cors_client: TestClient, path: str) -> None:
    answer = _preflight(cors_client, path, "https://evil.example", "POST", "authorization")
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    actual = cors_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert actual.status_code == 200
    assert "access-control-allow-origin" not in actual.headers


def test_no_origin_is_allowed_by_default(client: TestClient, app: FastAPI) -> None:
    assert GatewaySettings.model_fields["cors_allowed_origins"].default == ""
    assert cheap_settings().cors_origins == []
    answer = _preflight(client, "/auth/token", ALLOWED, "POST", "content-type")
    assert "access-control-allow-origin" not in answer.headers
    actual = client.get("/healthz", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in actual.headers
