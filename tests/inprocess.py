"""In-process services behind the gateway, for the cross-service tests.

The gateway's test settings, its admin bootstrap, client registration and tokens; the
learning-records settings; a catalog loaded with the registry and the plan; an indicators
database with the plan's definitions, and the indicators app reading records and the catalog
over their HTTP APIs (answered by the in-process apps) with its own unrestricted token.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from catalog.loader.run import SEED_DIR, load_all
from catalog.main import create_app as create_catalog
from catalog.main import migrations as catalog_migrations
from catalog.models import metadata as catalog_metadata
from catalog.settings import CatalogSettings
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from indicators.cli import load as load_indicator_defaults
from indicators.main import create_app as create_indicators
from indicators.main import migrations as indicators_migrations
from indicators.settings import IndicatorsSettings
from indicators.sources.http import HttpCatalogSource, HttpRecordsSource, ServiceToken
from learning_records.main import create_app as create_records
from learning_records.main import migrations as records_migrations
from learning_records.models import metadata as records_metadata
from learning_records.reference.sync import CatalogSync
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import (
    TestClientTransport,
    TokenFactory,
    clear_tables,
    temporary_database,
)

ADMIN_ID, ADMIN_SECRET = "iso-admin", "iso-admin-secret-0123456789abcdef0123"


# --- the gateway before in-process services ---------------------------------------------------


def gateway_settings(tokens: TokenFactory, database_url: str, **changes: Any) -> GatewaySettings:
    """Test settings: cheap hashing, a rate limit no test reaches, the test signing key."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "admin_client_id": ADMIN_ID,
        "admin_client_secret": ADMIN_SECRET,
        "rate_limit_per_s": 10_000.0,
        "rate_limit_burst": 10_000,
        "signing_key_pem": tokens.private_pem,
        "signing_kid": tokens.kid,
        "catalog_url": "http://catalog.iso",
        "records_url": "http://records.iso",
        "indicators_url": "http://indicators.iso",
    }
    return GatewaySettings(**(values | changes))


def bootstrap_admin(settings: GatewaySettings) -> None:
    """Register the settings' admin client in the gateway's database."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(settings), ADMIN_ID, ADMIN_SECRET)
    finally:
        engine.dispose()


def gateway_token(gateway: TestClient, client_id: str, secret: str, scope: str) -> str:
    """An access token from the gateway's /auth/token (client credentials, HTTP Basic)."""
    answer = gateway.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    """Authorization headers carrying a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def register_clients(
    gateway: TestClient,
    admin: Mapping[str, str],
    clients: Iterable[tuple[str, Iterable[str], list[str] | None]],
) -> dict[str, str]:
    """Register API clients (id, scopes, institutions or None); their secrets by id."""
    secrets: dict[str, str] = {}
    for client_id, scopes, institutions in clients:
        created = gateway.post(
            "/admin/clients",
            json={
                "client_id": client_id,
                "name": client_id,
                "scopes": list(scopes),
                "institutions": institutions,
            },
            headers=dict(admin),
        )
        assert created.status_code == 201, created.text
        secrets[client_id] = created.json()["client_secret"]
    return secrets


@contextmanager
def gateway_before(
    tokens: TokenFactory, workdir: Path, upstreams: Mapping[str, TestClient]
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The gateway on SQLite before in-process services; it and its admin's bearer headers."""
    settings = gateway_settings(tokens, f"sqlite:///{workdir / 'gateway'}.db")
    transports = {name: TestClientTransport(client) for name, client in upstreams.items()}
    app = create_gateway(settings, upstream_transports=transports)
    with TestClient(app, raise_server_exceptions=False) as gateway:
        bootstrap_admin(settings)
        yield gateway, bearer(gateway_token(gateway, ADMIN_ID, ADMIN_SECRET, "admin"))


def records_settings(database_url: str, tokens: TokenFactory, **changes: Any) -> Any:
    """learning-records' test settings, trusting the test key."""
    return LearningRecordsSettings(
        database_url=database_url,
        environment="test",
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        **changes,
    )


# --- the catalog and the indicators service ---------------------------------------------------

#: What indicators read from the catalog: the institutions and the plan with its targets.
CATALOG_SEEDS = ("reference_lists.json", "institutions_registry.json", "plan_2021_2027.json")


@contextmanager
def seeded_catalog(tokens: TokenFactory, workdir: Path) -> Iterator[TestClient]:
    """The catalog app on SQLite, loaded with the registry and the plan."""
    seeds = workdir / "seed"
    seeds.mkdir()
    for name in CATALOG_SEEDS:
        shutil.copy(SEED_DIR / name, seeds / name)
    url = f"sqlite:///{workdir / 'catalog'}.db"
    catalog_migrations.upgrade(url)
    engine = make_engine(url)
    try:
        list(load_all(engine, seeds))
    finally:
        engine.dispose()
    settings = CatalogSettings(
        database_url=url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )
    with TestClient(create_catalog(settings), raise_server_exceptions=False) as client:
        yield client


def indicators_database(workdir: Path) -> str:
    """An indicators database on SQLite with the plan's default definitions."""
    url = f"sqlite:///{workdir / 'indicators'}.db"
    indicators_migrations.upgrade(url)
    load_indicator_defaults(IndicatorsSettings(database_url=url, environment="test"))
    return url


@contextmanager
def indicators_over(
    database_url: str, tokens: TokenFactory, records: TestClient, catalog: TestClient
) -> Iterator[TestClient]:
    """The indicators app reading records and the catalog over their HTTP APIs with its own
    unrestricted service token, as deployed (requests go to the in-process apps)."""
    service_token = tokens.token("records:read catalog:read", client_id="indicators")
    settings = IndicatorsSettings(
        database_url=database_url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        service_token=service_token,
    )
    token = ServiceToken(settings)

    def over(client: TestClient, base_url: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=TestClientTransport(client), base_url=base_url)

    app = create_indicators(
        settings,
        records=HttpRecordsSource(over(records, "http://records.iso"), token),
        catalog=HttpCatalogSource(over(catalog, "http://catalog.iso"), token),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# --- a catalog and a learning-records app whose catalog copy syncs from it --------------------


@contextmanager
def catalog_and_records_databases(
    backend: str, workdir: Path, prefix: str
) -> Iterator[tuple[str, str]]:
    """A catalog and a learning-records database of the backend, migrated (module-scoped use)."""
    with (
        temporary_database(backend, workdir, f"{prefix}_catalog") as catalog_url,
        temporary_database(backend, workdir, f"{prefix}_records") as records_url,
    ):
        catalog_migrations.upgrade(catalog_url)
        records_migrations.upgrade(records_url)
        yield catalog_url, records_url


@contextmanager
def synced_records(
    tokens: TokenFactory, databases: tuple[str, str]
) -> Iterator[tuple[TestClient, TestClient, CatalogSync]]:
    """The catalog (registry and plan loaded) and learning-records with its catalog sync, which
    the test runs (`asyncio.run(sync.sync_once())`); both databases are emptied afterwards."""
    common: dict[str, Any] = {
        "environment": "test",
        "migrate_on_start": False,
        "auth_jwks_json": tokens.jwks_json,
        "auth_jwks_file": None,
    }
    catalog_app = create_catalog(CatalogSettings(database_url=databases[0], **common))
    settings = LearningRecordsSettings(
        database_url=databases[1],
        catalog_url="http://catalog",
        catalog_service_token=tokens.token("catalog:read", client_id="records-service"),
        **common,
    )
    records_app = create_records(settings)
    with TestClient(catalog_app) as catalog, TestClient(records_app) as records:
        load_all(catalog_app.state.engine)
        sync = CatalogSync(settings, records_app.state.engine, TestClientTransport(catalog))
        try:
            yield catalog, records, sync
        finally:
            asyncio.run(sync.aclose())
            clear_tables(catalog_app.state.engine, catalog_metadata)
            clear_tables(records_app.state.engine, records_metadata)
