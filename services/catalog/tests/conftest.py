"""Fixtures for the catalog service: a migrated database per backend, an app, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from catalog.main import create_app, migrations
from catalog.models import metadata
from catalog.settings import CatalogSettings
from pilnveide_kit.testing import TokenFactory, clear_tables, temporary_database


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this backend, migrated to head once for the session."""
    workdir: Path = tmp_path_factory.mktemp("catalog")
    with temporary_database(backend, workdir, "catalog") as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str, tokens: TokenFactory) -> CatalogSettings:
    """Test settings: the session database, trusting the test token key."""
    return CatalogSettings(
        database_url=database_url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )


@pytest.fixture
def app(settings: CatalogSettings) -> Iterator[FastAPI]:
    """The application; every table is emptied after the test."""
    application = create_app(settings)
    yield application
    engine = getattr(application.state, "engine", None)
    if engine is not None:
        clear_tables(engine, metadata)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client running the app's lifespan; server errors come back as responses."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def seeded(client: TestClient, app: FastAPI) -> TestClient:
    """The client, with every reviewed seed file of the repository loaded."""
    from catalog.loader.run import load_all

    load_all(app.state.engine)
    return client


@pytest.fixture
def reader(tokens: TokenFactory) -> dict[str, str]:
    """Headers of a client that may read the catalog."""
    return tokens.headers("catalog:read", client_id="reader-app")


@pytest.fixture
def writer(tokens: TokenFactory) -> dict[str, str]:
    """Headers of a client that may read and change the catalog."""
    return tokens.headers("catalog:read catalog:write", client_id="editor-app")
