"""POST /auth/token: RFC 6749 §4.4 client credentials, scopes, institutions, secret rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.clients.models import ApiClient
from gateway.models import utcnow
from gateway.settings import GatewaySettings
from pilnveide_kit.auth import KeySet, Principal, TokenVerifier
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TokenFactory

AppFactory = Callable[..., Any]
Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _verify(tokens: TokenFactory, token: str) -> Principal:
    verifier = TokenVerifier(
        KeySet(jwks_json=tokens.jwks_json), issuer=tokens.issuer, audience=tokens.audience
    )
    return verifier.verify(token)


def _ask(client: TestClient, form: dict[str, str], auth: tuple[str, str] | None = None) -> Any:
    return client.post("/auth/token", data=form, auth=auth)


def test_client_credentials_give_a_verifiable_rs256_token(
    client: TestClient, register: Register, tokens: TokenFactory
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:write", "xapi:write"])
    answer = _ask(client, {"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "records:write xapi:write"
    header, claims = _segment(body["access_token"], 0), _segment(body["access_token"], 1)
    assert header["alg"] == "RS256" and header["kid"] == tokens.kid
    assert claims["iss"] == "pilnveide-gateway" and claims["aud"] == "pilnveide"
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
    assert claims["jti"] and "institutions" not in claims
    principal = _verify(tokens, body["access_token"])
    assert principal.client_id == client_id
    assert principal.scopes == {"records:write", "xapi:write"}
    assert principal.institutions is None


def test_form_credentials_work_as_well_as_basic(
    client: TestClient, register: Register, tokens: TokenFactory
) -> None:
    client_id, secret = register(name="HR", scopes=["records:read"])
    answer = _ask(
        client,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert answer.status_code == 200, answer.text
    assert _verify(tokens, answer.json()["access_token"]).client_id == client_id


def test_scope_parameter_narrows_the_token(
    client: TestClient, register: Register, tokens: TokenFactory
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read", "records:write"])
    answer = _ask(
        client, {"grant_type": "client_credentials", "scope": "records:read"}, (client_id, secret)
    )
    assert answer.json()["scope"] == "records:read"
    assert _verify(tokens, answer.json()["access_token"]).scopes == {"records:read"}


@pytest.mark.parametrize("scope", ["records:erase", "no:such-scope", "records:read admin"])
def test_scopes_beyond_the_client_are_refused(
    client: TestClient, register: Register, scope: str
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    answer = _ask(client, {"grant_type": "client_credentials", "scope": scope}, (client_id, secret))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_admin_client_may_ask_for_any_scope(
    client: TestClient, register: Register, tokens: TokenFactory
) -> None:
    client_id, secret = register(name="Ops", scopes=["admin"])
    answer = _ask(
        client, {"grant_type": "client_credentials", "scope": "catalog:read"}, (client_id, secret)
    )
    assert _verify(tokens, answer.json()["access_token"]).scopes == {"catalog:read"}


def test_institution_restriction_becomes_the_institutions_claim(
    client: TestClient, register: Register, tokens: TokenFactory
) -> None:
    client_id, secret = register(name="VK HR", scopes=["records:read"], institutions=["VK", "FM"])
    token = _ask(client, {"grant_type": "client_credentials"}, (client_id, secret)).json()
    principal = _verify(tokens, token["access_token"])
    assert principal.institutions == {"VK", "FM"}


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("ghost", "nope"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({}, "good", 400, "invalid_request"),
        ({"grant_type": "password"}, "good", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "wrong-secret", 401, "invalid_client"),
    ],
)
def test_bad_requests_get_rfc6749_errors(
    client: TestClient,
    register: Register,
    form: dict[str, str],
    auth: Any,
    status: int,
    error: str,
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    if auth == "good":
        auth = (client_id, secret)
    elif auth == "wrong-secret":
        auth = (client_id, secret + "x")
    answer = _ask(client, form, auth)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == error
    if status == 401 and auth is not None:
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_basic_and_form_secret_together_are_refused(client: TestClient, register: Register) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    answer = _ask(
        client,
        {"grant_type": "client_credentials", "client_secret": secret},
        auth=(client_id, secret),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_secret_is_stored_only_as_an_argon2id_hash(
    client: TestClient, register: Register, settings: GatewaySettings
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        row = session.get(ApiClient, client_id)
        assert row is not None
        assert row.secret_hash.startswith("$argon2id$")
        assert secret not in row.secret_hash
    engine.dispose()


def test_rotation_keeps_two_secrets_valid_until_revoked(
    client: TestClient, register: Register, admin_headers: dict[str, str]
) -> None:
    client_id, old = register(name="LMS", scopes=["records:read"])
    rotated = client.post(f"/admin/clients/{client_id}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old and rotated.json()["previous_secret_expires_at"] is not None
    form = {"grant_type": "client_credentials"}
    assert _ask(client, form, (client_id, old)).status_code == 200
    assert _ask(client, form, (client_id, new)).status_code == 200
    revoked = client.post(
        f"/admin/clients/{client_id}/revoke-previous-secret", headers=admin_headers
    )
    assert revoked.status_code == 200
    assert _ask(client, form, (client_id, old)).status_code == 401
    assert _ask(client, form, (client_id, new)).status_code == 200


def test_rotation_without_grace_ends_the_old_secret_at_once(
    client: TestClient, register: Register, admin_headers: dict[str, str]
) -> None:
    client_id, old = register(name="LMS", scopes=["records:read"])
    rotated = client.post(
        f"/admin/clients/{client_id}/rotate-secret",
        json={"previous_valid_for_s": 0},
        headers=admin_headers,
    )
    assert rotated.json()["previous_secret_expires_at"] is None
    assert _ask(client, {"grant_type": "client_credentials"}, (client_id, old)).status_code == 401


def test_previous_secret_stops_working_after_its_deadline(
    client: TestClient,
    register: Register,
    admin_headers: dict[str, str],
    settings: GatewaySettings,
) -> None:
    client_id, old = register(name="LMS", scopes=["records:read"])
    client.post(f"/admin/clients/{client_id}/rotate-secret", headers=admin_headers)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        row = session.get(ApiClient, client_id)
        assert row is not None
        row.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    engine.dispose()
    assert _ask(client, {"grant_type": "client_credentials"}, (client_id, old)).status_code == 401


def test_deactivated_client_gets_no_token(
    client: TestClient, register: Register, admin_headers: dict[str, str]
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    client.post(f"/admin/clients/{client_id}/deactivate", headers=admin_headers)
    answer = _ask(client, {"grant_type": "client_credentials"}, (client_id, secret))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_token_request_records_last_use(
    client: TestClient, register: Register, admin_headers: dict[str, str], get_token: GetToken
) -> None:
    client_id, secret = register(name="LMS", scopes=["records:read"])
    before = client.get(f"/admin/clients/{client_id}", headers=admin_headers).json()
    assert before["last_used_at"] is None
    get_token(client, client_id, secret)
    after = client.get(f"/admin/clients/{client_id}", headers=admin_headers).json()
    assert after["last_used_at"] is not None


def _catalog(pages: dict[str | None, dict[str, Any]], seen: list[httpx.Request]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    return httpx.MockTransport(handle)


def test_resort_restriction_is_expanded_through_the_catalog(
    make_app: AppFactory, settings: GatewaySettings, register: Register, tokens: TokenFactory
) -> None:
    seen: list[httpx.Request] = []
    pages: dict[str | None, dict[str, Any]] = {
        None: {"data": [{"code": "VID"}, {"code": "IUB"}], "next_cursor": "p2"},
        "p2": {"data": [{"code": "CFLA"}], "next_cursor": None},
    }
    app = make_app(settings, catalog_transport=_catalog(pages, seen))
    client_id, secret = register(name="FM resort", scopes=["records:read"], resort="FM")
    with TestClient(app) as client:
        answer = _ask(client, {"grant_type": "client_credentials"}, (client_id, secret))
    assert answer.status_code == 200, answer.text
    assert _verify(tokens, answer.json()["access_token"]).institutions == {
        "FM",
        "VID",
        "IUB",
        "CFLA",
    }
    assert [r.url.params["parent"] for r in seen] == ["FM", "FM"]
    # The gateway asked with a token of its own that the catalog can verify.
    catalog_principal = _verify(tokens, seen[0].headers["authorization"].split()[1])
    assert catalog_principal.scopes == {"catalog:read"}


def test_resort_client_gets_no_token_while_the_catalog_is_down(
    make_app: AppFactory, settings: GatewaySettings, register: Register
) -> None:
    down = httpx.MockTransport(lambda request: httpx.Response(503))
    app = make_app(settings, catalog_transport=down)
    client_id, secret = register(name="FM resort", scopes=["records:read"], resort="FM")
    with TestClient(app) as client:
        answer = _ask(client, {"grant_type": "client_credentials"}, (client_id, secret))
    assert answer.status_code == 503
    assert answer.json()["error"] == "temporarily_unavailable"
