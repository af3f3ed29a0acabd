"""records:erase is the data-protection officer's: never registered for, nor issued to, a
client restricted to institutions or a resort (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.clients.models import ApiClientCreate
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import create_client
from gateway.settings import GatewaySettings
from pilnveide_kit.db import make_engine, session_scope


@pytest.mark.parametrize("restriction", [{"institutions": ["VK"]}, {"resort": "FM"}])
def test_a_restricted_client_cannot_be_registered_with_records_erase(
    client: TestClient, admin_headers: dict[str, str], restriction: dict[str, Any]
) -> None:
    body = {"name": "VK HR", "scopes": ["records:read", "records:erase"], **restriction}
    answer = client.post("/admin/clients", json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "records:erase" in answer.text
    listed = client.get("/admin/clients", headers=admin_headers).json()["data"]
    assert all(c["name"] != "VK HR" for c in listed)
    with pytest.raises(ValidationError):
        ApiClientCreate(name="x", scopes=["records:erase"], **restriction)
    unrestricted = {"name": "DPO", "scopes": ["records:erase", "records:read"]}
    assert (
        client.post("/admin/clients", json=unrestricted, headers=admin_headers).status_code == 201
    )


def _stored_without_checks(settings: GatewaySettings, **fields: Any) -> tuple[str, str]:
    """A client as an older release could have stored it (the model's checks skipped)."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            body = ApiClientCreate.model_construct(client_id=None, resort=None, **fields)
            created, secret = create_client(session, SecretHasher(settings), body)
            return created.client_id, secret
    finally:
        engine.dispose()


def _token(client: TestClient, credentials: tuple[str, str], scope: str | None) -> Any:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return client.post("/auth/token", data=form, auth=credentials)


def test_a_restricted_client_never_receives_records_erase(
    client: TestClient, settings: GatewaySettings
) -> None:
    legacy = _stored_without_checks(
        settings, name="old", scopes=["records:erase", "records:read"], institutions=["VK"]
    )
    for scope in (None, "records:erase"):
        answer = _token(client, legacy, scope)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_scope"
    assert _token(client, legacy, "records:read").status_code == 200
    restricted_admin = _stored_without_checks(
        settings, name="ops", scopes=["admin"], institutions=["VK"]
    )
    assert _token(client, restricted_admin, "records:erase").status_code == 400
    dpo = _stored_without_checks(settings, name="dpo", scopes=["records:erase"], institutions=None)
    answer = _token(client, dpo, None)
    assert answer.status_code == 200 and answer.json()["scope"] == "records:erase"
