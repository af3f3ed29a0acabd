"""PATCH /admin/clients/{id}: If-Match, validation, revocation when narrowed, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from jose import jwt

from .conftest import GetToken, Register


def _etag(client: TestClient, headers: dict[str, str], client_id: str) -> str:
    shown = client.get(f"/admin/clients/{client_id}", headers=headers)
    assert shown.status_code == 200
    return str(shown.headers["ETag"])


def _patch(
    client: TestClient, headers: dict[str, str], client_id: str, body: dict[str, object]
) -> object:
    return client.patch(
        f"/admin/clients/{client_id}",
        json=body,
        headers={**headers, "If-Match": _etag(client, headers, client_id)},
    )


def test_create_answers_location_and_etag_and_patch_needs_a_current_one(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = client.post(
        "/admin/clients",
        json={"client_id": "hr-horizon", "name": "HR", "scopes": ["records:read"]},
        headers=admin_headers,
    )
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/admin/clients/hr-horizon")
    first = created.headers["ETag"]
    assert client.get(created.headers["Location"], headers=admin_headers).headers["ETag"] == first

    missing = client.patch("/admin/clients/hr-horizon", json={"name": "x"}, headers=admin_headers)
    assert missing.status_code == 428
    assert missing.json()["type"].endswith("if-match-required")
    renamed = client.patch(
        "/admin/clients/hr-horizon",
        json={"name": "HR Horizon"},
        headers={**admin_headers, "If-Match": first},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "HR Horizon"
    assert renamed.headers["ETag"] != first
    stale = client.patch(
        "/admin/clients/hr-horizon",
        json={"name": "lost update"},
        headers={**admin_headers, "If-Match": first},
    )
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("stale-write")
    shown = client.get("/admin/clients/hr-horizon", headers=admin_headers).json()
    assert shown["name"] == "HR Horizon" and shown["tokens_not_before"] is None


def test_invalid_changes_are_refused_and_change_nothing(
    client: TestClient, admin_headers: dict[str, str], register: Register
) -> None:
    client_id, _ = register(name="DPO", scopes=["records:erase"])
    before = client.get(f"/admin/clients/{client_id}", headers=admin_headers).json()
    for body in (
        {"institutions": ["VK"]},  # records:erase cannot be restricted
        {"scopes": ["records:everything"]},
        {"scopes": None},
        {"name": ""},
        {"secret_hash": "mine"},
        {"rate_limit": {"per_s": -1, "burst": 1}},
    ):
        answer = _patch(client, admin_headers, client_id, body)
        assert answer.status_code == 422, (body, answer.text)  # type: ignore[attr-defined]
        assert answer.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    both = _patch(
        client,
        admin_headers,
        client_id,
        {"scopes": ["records:read"], "institutions": ["VK"], "resort": "FM"},
    )
    assert both.status_code == 422  # type: ignore[attr-defined]
    assert client.get(f"/admin/clients/{client_id}", headers=admin_headers).json() == before
    unknown = client.patch(
        "/admin/clients/nobody", json={"name": "x"}, headers={**admin_headers, "If-Match": "*"}
    )
    assert unknown.status_code == 404


def test_narrowing_revokes_the_clients_tokens_and_new_ones_carry_the_new_grant(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="HR", scopes=["catalog:read", "records:read"])
    old = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
    assert client.get("/records/v1/enrolments", headers=old).status_code == 200

    narrowed = _patch(client, admin_headers, client_id, {"institutions": ["VK", "FM"]})
    assert narrowed.status_code == 200  # type: ignore[attr-defined]
    assert narrowed.json()["tokens_not_before"] is not None  # type: ignore[attr-defined]
    refused = client.get("/records/v1/enrolments", headers=old)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("token-revoked")
    # The revocation view tells the services too.
    view = client.get("/auth/revocations", headers=admin_headers).json()
    assert client_id in view["clients"]

    token = get_token(client, client_id, secret)
    claims = jwt.get_unverified_claims(token)
    assert sorted(claims["institutions"]) == ["FM", "VK"]
    fresh = {"Authorization": f"Bearer {token}"}
    assert client.get("/records/v1/enrolments", headers=fresh).status_code == 200

    # A scope taken away: revoked again, and no new token may ask for it.
    dropped = _patch(client, admin_headers, client_id, {"scopes": ["catalog:read"]})
    assert dropped.status_code == 200  # type: ignore[attr-defined]
    assert client.get("/catalog/v1/plans", headers=fresh).status_code == 401
    denied = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "records:read"},
        auth=(client_id, secret),
    )
    assert denied.status_code == 400


def test_widening_renaming_and_limits_leave_tokens_alone(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="LMS", scopes=["catalog:read"], institutions=["VK"])
    old = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
    for body in (
        {"scopes": ["catalog:read", "xapi:write"]},
        {"institutions": ["VK", "FM"]},
        {"name": "LMS (Moodle)", "rate_limit": {"per_s": 50, "burst": 500}},
        {"institutions": None},  # unrestricted: wider still
    ):
        answer = _patch(client, admin_headers, client_id, body)
        assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
        assert answer.json()["tokens_not_before"] is None  # type: ignore[attr-defined]
    assert client.get("/catalog/v1/plans", headers=old).status_code == 200
    claims = jwt.get_unverified_claims(get_token(client, client_id, secret))
    assert set(claims["scope"].split()) == {"catalog:read", "xapi:write"}
    assert "institutions" not in claims


def test_an_admin_cannot_lock_itself_or_everyone_out(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    own = _patch(client, admin_headers, "test-admin", {"scopes": ["catalog:read"]})
    assert own.status_code == 409  # type: ignore[attr-defined]
    assert own.json()["type"].endswith("self-lockout")  # type: ignore[attr-defined]
    restricted = _patch(client, admin_headers, "test-admin", {"institutions": ["VK"]})
    assert restricted.status_code == 409  # type: ignore[attr-defined]
    other_id, other_secret = register(name="second admin", scopes=["admin"])
    other = {"Authorization": f"Bearer {get_token(client, other_id, other_secret)}"}
    client.post("/admin/clients/test-admin/deactivate", headers=other)
    # test-admin is inactive, so other_id is the last active admin; a third one may narrow it
    # only once another is active again.
    last = _patch(client, other, other_id, {"scopes": ["catalog:read"]})
    assert last.status_code == 409  # type: ignore[attr-defined]
    assert client.get(f"/admin/clients/{other_id}", headers=other).json()["scopes"] == ["admin"]


def test_a_change_is_audited(
    client: TestClient, admin_headers: dict[str, str], register: Register
) -> None:
    client_id, _ = register(name="HR", scopes=["records:read"])
    assert _patch(client, admin_headers, client_id, {"name": "HR 2"}).status_code == 200  # type: ignore[attr-defined]
    entries = client.get("/admin/audit", params={"client_id": "test-admin"}, headers=admin_headers)
    changes = [e for e in entries.json()["data"] if e["method"] == "PATCH"]
    assert [(e["path"], e["status"]) for e in changes] == [(f"/admin/clients/{client_id}", 200)]
