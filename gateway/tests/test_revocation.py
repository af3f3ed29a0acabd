"""Revocation at the gateway: /admin/** refuses a deactivated admin at once, reactivation and
rotation without grace end old tokens, no admin deactivates itself or the last admin, and the
revocation view services read."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from gateway.clients.models import ApiClient
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import LastActiveAdmin, ensure_admin_client, set_active
from gateway.settings import GatewaySettings
from pilnveide_kit.db import make_engine, session_scope

Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]


def _bearer(client: TestClient, get_token: GetToken, client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}


def test_a_deactivated_admin_is_refused_on_the_admin_api_at_once(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    other_id, other_secret = register(client_id="second-admin", name="Ops 2", scopes=["admin"])
    other = _bearer(client, get_token, other_id, other_secret)
    assert client.get("/admin/clients", headers=other).status_code == 200
    off = client.post(f"/admin/clients/{other_id}/deactivate", headers=admin_headers)
    assert off.status_code == 200, off.text
    for answer in (
        client.get("/admin/clients", headers=other),
        client.get("/admin/audit", headers=other),
        client.post("/admin/clients", json={"name": "x", "scopes": ["admin"]}, headers=other),
        client.post(f"/admin/clients/{other_id}/activate", headers=other),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["type"].endswith("client-deactivated")
    listed = client.get("/admin/clients", headers=admin_headers).json()["data"]
    assert {c["client_id"]: c["active"] for c in listed} == {"test-admin": True, other_id: False}


def test_the_admin_api_counts_against_the_rate_limit(
    make_app: Callable[..., object],
    settings: GatewaySettings,
    register: Register,
    get_token: GetToken,
) -> None:
    limited = settings.model_copy(update={"rate_limit_burst": 3, "rate_limit_per_s": 0.01})
    admin_id, admin_secret = register(name="Ops", scopes=["admin"])
    with TestClient(make_app(limited)) as client:  # type: ignore[arg-type]
        headers = _bearer(client, get_token, admin_id, admin_secret)  # takes one request
        statuses = [client.get("/admin/clients", headers=headers).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


def test_no_admin_may_deactivate_itself(
    client: TestClient, admin_headers: dict[str, str], register: Register
) -> None:
    register(client_id="second-admin", name="Ops 2", scopes=["admin"])
    answer = client.post("/admin/clients/test-admin/deactivate", headers=admin_headers)
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("self-deactivation")
    assert client.get("/admin/clients/test-admin", headers=admin_headers).json()["active"]


def test_the_last_active_admin_cannot_be_deactivated(
    client: TestClient, admin_headers: dict[str, str], register: Register, settings: GatewaySettings
) -> None:
    # A restricted admin cannot administer clients, so it does not count as another admin.
    register(client_id="local-admin", name="VK admin", scopes=["admin"], institutions=["VK"])
    engine = make_engine(settings.database_url)
    try:
        with pytest.raises(LastActiveAdmin), session_scope(engine) as session:
            set_active(session, "test-admin", False, by="someone-else")
        with session_scope(engine) as session:
            row = session.get(ApiClient, "test-admin")
            assert row is not None and row.active and row.tokens_not_before is None
    finally:
        engine.dispose()


def test_two_admins_deactivating_each_other_leave_one(
    client: TestClient, admin_headers: dict[str, str], register: Register, settings: GatewaySettings
) -> None:
    register(client_id="second-admin", name="Ops 2", scopes=["admin"])
    first = client.post("/admin/clients/second-admin/deactivate", headers=admin_headers)
    assert first.status_code == 200
    # second-admin's own request, had it raced the first, meets the check in the service.
    engine = make_engine(settings.database_url)
    try:
        with pytest.raises(LastActiveAdmin), session_scope(engine) as session:
            set_active(session, "test-admin", False, by="second-admin")
    finally:
        engine.dispose()


def test_rotation_without_grace_ends_existing_tokens(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="LMS", scopes=["catalog:read"])
    old = _bearer(client, get_token, client_id, secret)
    kept = client.post(f"/admin/clients/{client_id}/rotate-secret", headers=admin_headers)
    assert kept.json()["tokens_not_before"] is None  # with grace: tokens live on
    assert client.get("/catalog/v1/plans", headers=old).status_code == 200
    rotated = client.post(
        f"/admin/clients/{client_id}/rotate-secret",
        json={"previous_valid_for_s": 0},
        headers=admin_headers,
    )
    assert rotated.json()["tokens_not_before"] is not None
    refused = client.get("/catalog/v1/plans", headers=old)
    assert refused.status_code == 401 and refused.json()["type"].endswith("token-revoked")
    new = _bearer(client, get_token, client_id, rotated.json()["client_secret"])
    assert client.get("/catalog/v1/plans", headers=new).status_code == 200


def test_revoking_the_previous_secret_ends_existing_tokens(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    client_id, secret = register(name="LMS", scopes=["catalog:read"])
    old = _bearer(client, get_token, client_id, secret)
    client.post(f"/admin/clients/{client_id}/rotate-secret", headers=admin_headers)
    client.post(f"/admin/clients/{client_id}/revoke-previous-secret", headers=admin_headers)
    assert client.get("/catalog/v1/plans", headers=old).status_code == 401


def test_revocation_view_lists_only_clients_with_tokens_cut_off(
    client: TestClient, admin_headers: dict[str, str], register: Register, get_token: GetToken
) -> None:
    untouched, _ = register(name="untouched", scopes=["catalog:read"])
    stopped, _ = register(name="stopped", scopes=["catalog:read"])
    rotated, _ = register(name="rotated", scopes=["catalog:read"])
    before = int(time.time())
    client.post(f"/admin/clients/{stopped}/deactivate", headers=admin_headers)
    client.post(
        f"/admin/clients/{rotated}/rotate-secret",
        json={"previous_valid_for_s": 0},
        headers=admin_headers,
    )
    answer = client.get("/auth/revocations")  # public, like the JWKS
    assert answer.status_code == 200
    view = answer.json()
    assert set(view["clients"]) == {stopped, rotated}
    assert view["clients"][stopped]["active"] is False
    assert view["clients"][rotated]["active"] is True
    for entry in view["clients"].values():
        # The next whole second after the revocation: later than every token issued before.
        assert before < entry["not_before"] <= view["generated_at"] + 1
    assert untouched not in view["clients"]


def test_gateway_prepare_replacing_a_secret_ends_its_tokens(
    client: TestClient, admin_headers: dict[str, str], settings: GatewaySettings
) -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            ensure_admin_client(
                session, SecretHasher(settings), "test-admin", "another-secret-0123456789-abcdefgh"
            )
    finally:
        engine.dispose()
    assert client.get("/admin/clients", headers=admin_headers).status_code == 401
