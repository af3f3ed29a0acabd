"""Every service's health, readiness, version and problem+json basics, over HTTP."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.testing import temporary_database

SERVICES = {
    "catalog": ("catalog", "CatalogSettings"),
    "learning-records": ("learning_records", "LearningRecordsSettings"),
    "indicators": ("indicators", "IndicatorsSettings"),
}


@pytest.fixture(params=sorted(SERVICES))
def service(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[tuple[str, TestClient]]:
    """Each service on a fresh database of the backend, migrated at start as in production."""
    name = str(request.param)
    package, settings_class = SERVICES[name]
    main = importlib.import_module(f"{package}.main")
    settings = getattr(importlib.import_module(f"{package}.settings"), settings_class)
    with temporary_database(backend, tmp_path, package) as url:
        app = main.create_app(settings(database_url=url, environment="test", auth_jwks_file=None))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield name, client


def test_healthz_answers(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_database_and_migrations(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "at head"}


def test_version_names_the_service(service: tuple[str, TestClient]) -> None:
    name, client = service
    assert client.get("/version").json()["service"] == name


def test_unknown_path_is_problem_json(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_openapi_document_is_served(service: tuple[str, TestClient]) -> None:
    _name, client = service
    document = client.get("/openapi.json").json()
    assert document["info"]["title"].startswith("Pilnveide")
    assert "/healthz" in document["paths"]
