"""Fixtures for the indicators service: a migrated database per backend, an app, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indicators.main import create_app, migrations
from indicators.models import metadata
from indicators.settings import IndicatorsSettings
from indicators.sources.memory import MemoryCatalog, MemoryRecords
from pilnveide_kit.testing import TokenFactory, clear_tables, temporary_database


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this backend, migrated to head once for the session."""
    workdir: Path = tmp_path_factory.mktemp("indicators")
    with temporary_database(backend, workdir, "indicators") as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str, tokens: TokenFactory) -> IndicatorsSettings:
    """Test settings: the session database, trusting the test token key."""
    return IndicatorsSettings(
        database_url=database_url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        catalog_ttl_s=0,
        refresh_interval_s=0.05,
    )


@pytest.fixture
def records() -> MemoryRecords:
    """learning-records stand-in: the aggregation contract over in-memory rows."""
    return MemoryRecords()


@pytest.fixture
def catalog() -> MemoryCatalog:
    """Catalog stand-in: a plan's indicators and the institutions."""
    return MemoryCatalog()


@pytest.fixture
def app(
    settings: IndicatorsSettings, records: MemoryRecords, catalog: MemoryCatalog
) -> Iterator[FastAPI]:
    """The application on the in-memory sources; every table is emptied after the test."""
    application = create_app(settings, records=records, catalog=catalog)
    yield application
    engine = getattr(application.state, "engine", None)
    if engine is not None:
        clear_tables(engine, metadata)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client running the app's lifespan; server errors come back as responses."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
