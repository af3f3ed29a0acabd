"""Revocation reaches the services: a real service app, reached directly (not through the
gateway), refuses a deactivated client's token once its cached revocation view is older than
its TTL (0 here, so at once), does not take old tokens back after a reactivation, and refuses
tokens older than a rotation without grace.

The gateway runs under uvicorn on a free local port; the catalog fetches the gateway's
`/auth/revocations` over real HTTP, as `make run`, docker-compose and Kubernetes configure it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from catalog.main import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.main import create_app as create_gateway
from pilnveide_kit.testing import TokenFactory, serve_in_thread

from .inprocess import ADMIN_ID, ADMIN_SECRET, bootstrap_admin, gateway_settings


@pytest.fixture(scope="module")
def gateway_url(tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway over HTTP on 127.0.0.1 (no upstream is needed: services are called directly)."""
    workdir: Path = tmp_path_factory.mktemp("revocation")
    settings = gateway_settings(
        tokens,
        f"sqlite:///{workdir / 'gateway'}.db",
        keys_dir=str(workdir / "keys"),
        client_status_cache_s=0,
    )
    with serve_in_thread(create_gateway(settings)) as url:
        bootstrap_admin(settings)
        yield url


@pytest.fixture(scope="module")
def catalog(
    gateway_url: str, tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The real catalog app, consulting the gateway's revocation view with a TTL of 0."""
    workdir = tmp_path_factory.mktemp("catalog")
    settings = CatalogSettings(
        database_url=f"sqlite:///{workdir / 'catalog'}.db",
        environment="test",
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        auth_revocations_url=f"{gateway_url}/auth/revocations",
        auth_revocations_ttl_s=0,
    )
    with TestClient(create_catalog(settings)) as client:
        yield client


def _token(gateway_url: str, client_id: str, secret: str) -> dict[str, str]:
    answer = httpx.post(
        f"{gateway_url}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def admin(gateway_url: str) -> httpx.Client:
    """An HTTP client for the gateway's admin API."""
    return httpx.Client(base_url=gateway_url, headers=_token(gateway_url, ADMIN_ID, ADMIN_SECRET))


def _register(admin: httpx.Client, client_id: str) -> str:
    created = admin.post(
        "/admin/clients",
        json={"client_id": client_id, "name": client_id, "scopes": ["catalog:read"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["client_secret"])


def test_a_deactivated_client_is_refused_directly_at_a_service(
    gateway_url: str, catalog: TestClient, admin: httpx.Client
) -> None:
    secret = _register(admin, "lms-direct")
    old = _token(gateway_url, "lms-direct", secret)
    assert catalog.get("/v1/institutions", headers=old).status_code == 200
    assert admin.post("/admin/clients/lms-direct/deactivate").status_code == 200
    refused = catalog.get("/v1/institutions", headers=old)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("client-deactivated")
    assert admin.post("/admin/clients/lms-direct/activate").status_code == 200
    revived = catalog.get("/v1/institutions", headers=old)
    assert revived.status_code == 401 and revived.json()["type"].endswith("token-revoked")
    fresh = _token(gateway_url, "lms-direct", secret)
    assert catalog.get("/v1/institutions", headers=fresh).status_code == 200


def test_a_rotation_without_grace_ends_tokens_at_a_service(
    gateway_url: str, catalog: TestClient, admin: httpx.Client
) -> None:
    secret = _register(admin, "hr-rotated")
    old = _token(gateway_url, "hr-rotated", secret)
    assert catalog.get("/v1/institutions", headers=old).status_code == 200
    rotated = admin.post(
        "/admin/clients/hr-rotated/rotate-secret", json={"previous_valid_for_s": 0}
    )
    assert rotated.status_code == 200
    assert catalog.get("/v1/institutions", headers=old).status_code == 401
    new = _token(gateway_url, "hr-rotated", rotated.json()["client_secret"])
    assert catalog.get("/v1/institutions", headers=new).status_code == 200


def test_other_clients_are_not_affected(
    gateway_url: str, catalog: TestClient, admin: httpx.Client
) -> None:
    stopped, kept = _register(admin, "stopped-one"), _register(admin, "kept-one")
    kept_token = _token(gateway_url, "kept-one", kept)
    _token(gateway_url, "stopped-one", stopped)
    admin.post("/admin/clients/stopped-one/deactivate")
    assert catalog.get("/v1/institutions", headers=kept_token).status_code == 200
