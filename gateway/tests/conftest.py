"""Fixtures for the gateway: a migrated database per backend, an echo upstream, an admin token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from gateway.clients.models import ApiClientCreate
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import create_client, ensure_admin_client
from gateway.main import create_app, migrations
from gateway.models import metadata
from gateway.settings import GatewaySettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TokenFactory, clear_tables, temporary_database

ADMIN_ID = "test-admin"
ADMIN_SECRET = "test-admin-secret-0123456789-abcdef"


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this backend, migrated to head once for the session."""
    workdir: Path = tmp_path_factory.mktemp("gateway")
    with temporary_database(backend, workdir, "gateway") as url:
        migrations.upgrade(url)
        yield url


def cheap_settings(**overrides: Any) -> GatewaySettings:
    """Gateway settings for tests: cheap Argon2, no real upstreams, generous limits."""
    values: dict[str, Any] = {
        "environment": "test",
        "migrate_on_start": False,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "admin_client_id": ADMIN_ID,
        "admin_client_secret": ADMIN_SECRET,
        "indicators_client_secret": "indicators-test-secret-0123456789-abc",
        "records_client_secret": "records-test-secret-0123456789-abcdef",
        "catalog_url": "http://catalog.test",
        "records_url": "http://records.test",
        "indicators_url": "http://indicators.test",
        "rate_limit_per_s": 1000.0,
        "rate_limit_burst": 1000,
        "client_status_cache_s": 0,
        "credential_cache_s": 0,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def settings(database_url: str, tokens: TokenFactory, tmp_path: Path) -> GatewaySettings:
    """Test settings: the session database, signing with the test token key."""
    return cheap_settings(
        database_url=database_url,
        signing_key_pem=tokens.private_pem,
        signing_kid=tokens.kid,
        keys_dir=str(tmp_path / "keys"),
    )


def echo_app() -> FastAPI:
    """An upstream that answers with what it received (the path, the auth header, body size)."""
    upstream = FastAPI()

    @upstream.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def echo(path: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "path": "/" + path,
            "authorization": request.headers.get("authorization"),
            "body_bytes": len(body),
        }

    return upstream


def echo_transports() -> dict[str, httpx.AsyncBaseTransport]:
    """Every upstream served in-process by the echo app."""
    app = echo_app()
    return {name: httpx.ASGITransport(app=app) for name in ("catalog", "records", "indicators")}


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(database_url: str) -> Iterator[AppFactory]:
    """Build gateway apps (echo upstreams unless told otherwise); tables emptied afterwards."""
    built: list[FastAPI] = []

    def factory(settings: GatewaySettings, **kwargs: Any) -> FastAPI:
        kwargs.setdefault("upstream_transports", echo_transports())
        application = create_app(settings, **kwargs)
        built.append(application)
        return application

    yield factory
    engine = make_engine(database_url)
    clear_tables(engine, metadata)
    engine.dispose()


@pytest.fixture
def app(make_app: AppFactory, settings: GatewaySettings) -> FastAPI:
    """The gateway with echo upstreams."""
    return make_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client running the gateway's lifespan."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]


@pytest.fixture
def register(settings: GatewaySettings) -> Register:
    """Register a client straight in the database: register(name=..., scopes=[...]) → (id, secret)."""

    def _register(
        gateway_settings: GatewaySettings | None = None, **fields: Any
    ) -> tuple[str, str]:
        target = gateway_settings or settings
        engine = make_engine(target.database_url)
        try:
            with session_scope(engine) as session:
                created, secret = create_client(
                    session, SecretHasher(target), ApiClientCreate(**fields)
                )
                return created.client_id, secret
        finally:
            engine.dispose()

    return _register


@pytest.fixture
def get_token() -> GetToken:
    """get_token(test_client, id, secret, scope=None): an access token from /auth/token."""

    def _get_token(
        test_client: TestClient, client_id: str, secret: str, scope: str | None = None
    ) -> str:
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        answer = test_client.post("/auth/token", data=form, auth=(client_id, secret))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    return _get_token


@pytest.fixture
def admin_headers(
    client: TestClient, settings: GatewaySettings, get_token: GetToken
) -> dict[str, str]:
    """Authorization headers of the admin client (created for the test)."""
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        ensure_admin_client(session, SecretHasher(settings), ADMIN_ID, ADMIN_SECRET)
    engine.dispose()
    return {"Authorization": f"Bearer {get_token(client, ADMIN_ID, ADMIN_SECRET)}"}
