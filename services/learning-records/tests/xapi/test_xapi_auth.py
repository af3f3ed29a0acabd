"""Authentication on /xapi: HTTP Basic (development pair), Bearer tokens, scopes (XAPI-00334/5)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from learning_records.main import create_app
from learning_records.settings import LearningRecordsSettings
from learning_records.xapi.settings import XapiSettings
from pilnveide_kit.testing import TokenFactory

V = {"X-Experience-API-Version": "2.0.0"}


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def test_basic_credentials_accepted_xapi_00335(lrs: Any, make_statement: Any) -> None:
    """XAPI-00335: HTTP Basic with the configured key and secret is accepted."""
    assert lrs.post("/statements", json=make_statement()).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _basic("lms-dev", "wrong"),
        _basic("someone", "lms-dev-secret"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer not-a-token"},
    ],
)
def test_missing_or_wrong_credentials_401_xapi_00334(
    lrs: Any, make_statement: Any, headers: dict[str, str]
) -> None:
    """XAPI-00334: no or wrong credentials are 401 with a Basic challenge; nothing is stored."""
    response = lrs.client.post("/xapi/statements", json=make_statement(), headers={**V, **headers})
    assert response.status_code == 401
    assert response.headers["X-Experience-API-Version"] == "2.0.0"
    if "Bearer" not in headers.get("Authorization", ""):
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert lrs.statements() == []


def test_bearer_scopes_read_and_write(lrs: Any, make_statement: Any, tokens: TokenFactory) -> None:
    """A Bearer token with xapi:read reads but may not write (403); xapi:write writes."""
    reader = {**V, **tokens.headers("xapi:read")}
    writer = {**V, **tokens.headers("xapi:write")}
    body = make_statement()
    refused = lrs.client.post("/xapi/statements", json=body, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["missing_scopes"] == ["xapi:write"]
    assert lrs.client.post("/xapi/statements", json=body, headers=writer).status_code == 200
    got = lrs.client.get("/xapi/statements", params={"statementId": body["id"]}, headers=reader)
    assert got.status_code == 200
    assert got.json()["authority"]["account"]["name"] == "test-client"
    other = {**V, **tokens.headers("records:read")}
    assert lrs.client.get("/xapi/statements", headers=other).status_code == 403


def test_basic_refused_when_no_development_pair(app: FastAPI, make_statement: Any) -> None:
    """Without RECORDS_XAPI_BASIC_DEV_CREDENTIALS the service takes Bearer only (the gateway
    exchanges Basic credentials for tokens)."""
    app.state.xapi_settings = XapiSettings()
    with TestClient(app) as client:
        response = client.get("/xapi/statements", headers={**V, **_basic("lms-dev", "x")})
        assert response.status_code == 401
        assert "gateway" in response.json()["detail"]


def test_development_pair_refused_in_production(settings: LearningRecordsSettings) -> None:
    """The development Basic pair is refused when the service runs in production."""
    production = settings.model_copy(
        update={"environment": "production", "pseudonym_pepper": "p" * 32}
    )
    app = create_app(production)
    app.state.xapi_settings = XapiSettings(basic_dev_credentials="k:s")
    with pytest.raises(RuntimeError, match="refused in production"), TestClient(app):
        pass


def test_about_is_public_xapi_00315(lrs: Any) -> None:
    """XAPI-00315 / XAPI-00319: GET /about needs neither version header nor credentials."""
    response = lrs.client.get("/xapi/about")
    assert response.status_code == 200
    assert "2.0.0" in response.json()["version"]


def test_every_lrs_route_declares_and_enforces_its_scope(lrs: Any, tokens: TokenFactory) -> None:
    """Each /xapi operation shows its scope in OpenAPI; without credentials it is 401, with a
    token of another scope 403, with its scope neither (About is public, as the spec has it)."""
    document = lrs.client.get("/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/xapi"):
            continue
        for method, operation in operations.items():
            if path == "/xapi/about":
                assert "security" not in operation
                continue
            [requirement] = operation["security"]
            [scope] = next(iter(requirement.values()))
            assert scope == ("xapi:read" if method in ("get", "head") else "xapi:write")
            call = lrs.client.request
            assert call(method, path, headers=V).status_code == 401
            other = {**V, **tokens.headers("records:read")}
            assert call(method, path, headers=other).status_code == 403
            allowed = call(method, path, headers={**V, **tokens.headers(scope)})
            assert allowed.status_code not in (401, 403) and allowed.status_code < 500
            checked += 1
    assert checked == 23
