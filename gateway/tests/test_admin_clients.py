"""The admin API for API clients: create, list, get, deactivate, activate, rotate."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]


def test_create_shows_the_secret_once(
    client: TestClient, admin_headers: dict[str, str], get_token: GetToken
) -> None:
    created = client.post(
        "/admin/clients",
        json={"client_id": "vas-lms", "name": "VAS LMS", "scopes": ["xapi:write", "records:write"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_id"] == "vas-lms" and body["active"] is True
    assert body["scopes"] == ["records:write", "xapi:write"]
    assert len(body["client_secret"]) >= 40
    shown = client.get("/admin/clients/vas-lms", headers=admin_headers).json()
    assert "client_secret" not in shown and "secret_hash" not in shown
    assert get_token(client, "vas-lms", body["client_secret"])


def test_generated_ids_and_duplicate_ids(client: TestClient, admin_headers: dict[str, str]) -> None:
    generated = client.post(
        "/admin/clients", json={"name": "HR", "scopes": ["records:read"]}, headers=admin_headers
    )
    assert generated.status_code == 201
    assert generated.json()["client_id"].startswith("client-")
    first = client.post(
        "/admin/clients",
        json={"client_id": "hr-fm", "name": "HR", "scopes": ["records:read"]},
        headers=admin_headers,
    )
    again = client.post(
        "/admin/clients",
        json={"client_id": "hr-fm", "name": "HR 2", "scopes": ["records:read"]},
        headers=admin_headers,
    )
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["records:everything"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["records:read"], "institutions": ["VK"], "resort": "FM"},
        {"name": "x", "scopes": ["records:read"], "institutions": []},
        {"name": "x", "scopes": ["records:read"], "client_id": "Bad Id!"},
        {"name": "x", "scopes": ["records:read"], "secret_hash": "mine"},
    ],
)
def test_invalid_clients_are_refused(
    client: TestClient, admin_headers: dict[str, str], body: dict[str, object]
) -> None:
    answer = client.post("/admin/clients", json=body, headers=admin_headers)
    assert answer.status_code == 422
    listed = client.get("/admin/clients", headers=admin_headers).json()["data"]
    assert [c["client_id"] for c in listed] == ["test-admin"]


def test_list_pages_through_clients_by_id(
    client: TestClient, admin_headers: dict[str, str], register: Register
) -> None:
    for name in ("c-one", "c-two", "c-three"):
        register(client_id=name, name=name, scopes=["catalog:read"])
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/admin/clients", params=params, headers=admin_headers).json()
        seen += [c["client_id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(["c-one", "c-two", "c-three", "test-admin"])


def test_unknown_client_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    for answer in (
        client.get("/admin/clients/nobody", headers=admin_headers),
        client.post("/admin/clients/nobody/deactivate", headers=admin_headers),
        client.post("/admin/clients/nobody/rotate-secret", headers=admin_headers),
    ):
        assert answer.status_code == 404
        assert answer.json()["client_id"] == "nobody"


def test_deactivation_stops_tokens_already_issued_and_reactivation_does_not_revive_them(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="LMS", scopes=["catalog:read"])
    headers = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
    assert client.get("/catalog/v1/plans", headers=headers).status_code == 200
    off = client.post(f"/admin/clients/{client_id}/deactivate", headers=admin_headers)
    assert off.json()["active"] is False and off.json()["tokens_not_before"] is not None
    refused = client.get("/catalog/v1/plans", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("client-deactivated")
    inactive = client.get("/admin/clients", params={"active": False}, headers=admin_headers)
    assert [c["client_id"] for c in inactive.json()["data"]] == [client_id]
    client.post(f"/admin/clients/{client_id}/activate", headers=admin_headers)
    old = client.get("/catalog/v1/plans", headers=headers)
    assert old.status_code == 401
    assert old.json()["type"].endswith("token-revoked")
    # A token issued after the reactivation works at once (even within the same second).
    fresh = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
    assert client.get("/catalog/v1/plans", headers=fresh).status_code == 200


def test_admin_api_needs_an_unrestricted_admin_token(
    client: TestClient, register: Register, get_token: GetToken
) -> None:
    assert client.get("/admin/clients").status_code == 401
    reader_id, reader_secret = register(name="reader", scopes=["catalog:read"])
    reader = {"Authorization": f"Bearer {get_token(client, reader_id, reader_secret)}"}
    assert client.get("/admin/clients", headers=reader).status_code == 403
    local_id, local_secret = register(name="local admin", scopes=["admin"], institutions=["VK"])
    local = {"Authorization": f"Bearer {get_token(client, local_id, local_secret)}"}
    refused = client.post("/admin/clients", json={"name": "x", "scopes": ["admin"]}, headers=local)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("restricted-admin")


def test_openapi_shows_the_admin_scope(app: object) -> None:
    document = app.openapi()  # type: ignore[attr-defined]
    operation = document["paths"]["/admin/clients"]["post"]
    assert operation["operationId"] == "create_client"
    assert operation["security"] == [{"OAuth2ClientCredentials": ["admin"]}]
    assert "security" not in document["paths"]["/auth/token"]["post"]
