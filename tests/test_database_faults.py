"""Database faults are a retryable 503, never a 500, and never leave half a write behind.

- On PostgreSQL, the service's connections are terminated (pg_terminate_backend) while a bulk
  write is between its statements: the request gets 503 problem+json with Retry-After, nothing
  of the batch is stored, and the same request then succeeds on fresh connections.
- A serialization failure is retried once inside the service: the client sees only success.
- A database that refuses connections gives 503 with Retry-After on every service and on the
  gateway's own routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from catalog.main import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from indicators.main import create_app as create_indicators
from indicators.settings import IndicatorsSettings
from learning_records.main import create_app as create_records
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.testing import (
    POSTGRES_ADMIN_URL,
    TokenFactory,
    free_port,
    postgres_reachable,
    temporary_database,
)

needs_postgres = pytest.mark.skipif(
    not postgres_reachable(), reason="PostgreSQL is not reachable (set PILNVEIDE_TEST_POSTGRES_URL)"
)


def _enrolment(number: int) -> dict[str, object]:
    return {
        "source_system": "fault",
        "external_id": f"fault-{number}",
        "personal_code": synthetic_personal_code(number),
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-03-01",
        "hours": 4,
    }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar() or 0)


@pytest.fixture
def records(tokens: TokenFactory, tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    """learning-records on its own PostgreSQL database."""
    with temporary_database("postgresql", tmp_path, "faults") as url:
        settings = LearningRecordsSettings(
            database_url=url,
            environment="test",
            auth_jwks_json=tokens.jwks_json,
            auth_jwks_file=None,
        )
        with TestClient(create_records(settings), raise_server_exceptions=False) as client:
            yield client, client.app.state.engine  # type: ignore[attr-defined]


def _on_insert(engine: Engine, table: str, times: int, action: Callable[[Any], None]) -> Any:
    """Run action(connection) just before each of the first `times` INSERTs into table."""
    seen = {"inserts": 0}

    def before(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            seen["inserts"] += 1
            if seen["inserts"] <= times:
                action(connection)

    event.listen(engine, "before_cursor_execute", before)
    return before


def _terminate_service_connections(engine: Engine) -> Callable[[Any], None]:
    database = make_url(engine.url).database

    def terminate(_connection: Any) -> None:
        # Every backend of the service's database, the one in the middle of this write too.
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )

    return terminate


@needs_postgres
def test_connections_terminated_mid_write_give_503_and_nothing_half_written(
    records: tuple[TestClient, Engine], tokens: TokenFactory
) -> None:
    client, engine = records
    writer = tokens.headers("records:write records:read")
    batch = [_enrolment(n) for n in range(1, 11)]
    assert client.get("/v1/changes/head", headers=writer).status_code == 200  # pool warmed
    enrolments, changes = _count(engine, "enrolment"), _count(engine, "change")
    # The change feed is written after the batch's rows: the transaction is half done.
    hook = _on_insert(engine, "change", 1, _terminate_service_connections(engine))
    try:
        answer = client.post("/v1/enrolments/bulk", json=batch, headers=writer)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    assert (_count(engine, "enrolment"), _count(engine, "change")) == (enrolments, changes)
    # Fresh connections afterwards: reads answer, and the same batch is stored whole, once.
    assert client.get("/v1/enrolments", headers=writer).status_code == 200
    again = client.post("/v1/enrolments/bulk", json=batch, headers=writer)
    assert again.status_code == 200, again.text
    assert _count(engine, "enrolment") == enrolments + 10
    assert client.post("/v1/enrolments/bulk", json=batch, headers=writer).status_code == 200
    assert _count(engine, "enrolment") == enrolments + 10


@needs_postgres
@pytest.mark.parametrize(
    "error", [psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected]
)
def test_a_transaction_the_database_rolled_back_is_retried_once_inside_the_service(
    records: tuple[TestClient, Engine], tokens: TokenFactory, error: type[Exception]
) -> None:
    client, engine = records
    writer = tokens.headers("records:write records:read")

    def fail(_connection: Any) -> None:
        raise error("could not serialize access due to concurrent update")

    before = _count(engine, "enrolment")
    hook = _on_insert(engine, "change", 1, fail)
    try:
        answer = client.post("/v1/enrolments", json=_enrolment(42), headers=writer)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert answer.status_code == 201, answer.text
    assert "x-pilnveide-transaction-retryable" not in answer.headers
    assert _count(engine, "enrolment") == before + 1


@needs_postgres
def test_a_transaction_failing_twice_is_a_503(
    records: tuple[TestClient, Engine], tokens: TokenFactory
) -> None:
    client, engine = records
    writer = tokens.headers("records:write records:read")

    def fail(connection: Any) -> None:
        raise psycopg.errors.SerializationFailure("could not serialize access")

    before = _count(engine, "enrolment")
    hook = _on_insert(engine, "change", 2, fail)
    try:
        answer = client.post("/v1/enrolments", json=_enrolment(43), headers=writer)
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    assert "x-pilnveide-transaction-retryable" not in answer.headers
    assert _count(engine, "enrolment") == before


def _refused_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


def _settings(kind: type[Any], tokens: TokenFactory, **extra: Any) -> Any:
    return kind(
        database_url=_refused_url(),
        migrate_on_start=False,
        environment="test",
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        **extra,
    )


SERVICES: dict[str, tuple[Callable[[Any], FastAPI], type[Any], str, str]] = {
    "catalog": (create_catalog, CatalogSettings, "/v1/courses", "catalog:read"),
    "records": (create_records, LearningRecordsSettings, "/v1/enrolments", "records:read"),
    "indicators": (create_indicators, IndicatorsSettings, "/v1/definitions", "indicators:read"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_database_refusing_connections_is_a_503_with_retry_after(
    service: str, tokens: TokenFactory
) -> None:
    factory, settings_class, path, scope = SERVICES[service]
    with TestClient(
        factory(_settings(settings_class, tokens)), raise_server_exceptions=False
    ) as client:
        answer = client.get(path, headers=tokens.headers(scope))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"]
        assert client.get("/healthz").status_code == 200


def test_the_gateway_with_its_database_refusing_is_a_503(
    tokens: TokenFactory, tmp_path: Path
) -> None:
    settings = GatewaySettings(
        database_url=_refused_url(),
        migrate_on_start=False,
        environment="test",
        signing_key_pem=tokens.private_pem,
        signing_kid=tokens.kid,
        keys_dir=str(tmp_path / "keys"),
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )
    with TestClient(create_gateway(settings), raise_server_exceptions=False) as client:
        answer = client.post(
            "/auth/token", data={"grant_type": "client_credentials"}, auth=("someone", "secret")
        )
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
