"""Fixtures for the kit's tests: the sample service on each backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.settings import ServiceSettings
from pilnveide_kit.testing import TokenFactory, temporary_database

sys.path.insert(0, str(Path(__file__).parent))

from sample_service.app import create_app


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, unmigrated database (the app migrates it on start)."""
    with temporary_database(backend, tmp_path, "kit") as url:
        yield url


@pytest.fixture
def settings(database_url: str, tokens: TokenFactory) -> ServiceSettings:
    """Sample service settings."""
    return ServiceSettings(
        service_name="sample", database_url=database_url, auth_jwks_json=tokens.jwks_json
    )


@pytest.fixture
def client(settings: ServiceSettings) -> Iterator[TestClient]:
    """The sample service, started (migrated) and stopped around the test."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
