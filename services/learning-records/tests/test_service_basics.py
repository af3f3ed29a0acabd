"""The learning-records service's health, readiness, version and problem+json basics, over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "at head"}


def test_version_names_the_service(client: TestClient) -> None:
    assert client.get("/version").json()["service"] == "learning-records"


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_openapi_document_is_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"].startswith("Pilnveide")
    assert "/healthz" in document["paths"]
