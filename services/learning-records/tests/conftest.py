"""Fixtures for the learning-records service: a migrated database per backend, an app, a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from learning_records.main import create_app, migrations
from learning_records.models import metadata
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.testing import TokenFactory, clear_tables, temporary_database


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this backend, migrated to head once for the session."""
    workdir: Path = tmp_path_factory.mktemp("learning_records")
    with temporary_database(backend, workdir, "learning_records") as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str, tokens: TokenFactory) -> LearningRecordsSettings:
    """Test settings: the session database, trusting the test token key."""
    return LearningRecordsSettings(
        database_url=database_url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )


@pytest.fixture
def app(settings: LearningRecordsSettings) -> Iterator[FastAPI]:
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
def engine(client: TestClient) -> Engine:
    """The running app's engine (the client fixture has started its lifespan)."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.fixture
def pepper(settings: LearningRecordsSettings) -> str:
    """The pseudonym pepper the app under test uses."""
    return settings.pseudonym_pepper


@pytest.fixture
def writer(tokens: TokenFactory) -> dict[str, str]:
    """Headers of an unrestricted client allowed to write and read records."""
    return tokens.headers("records:write records:read")


def code(number: int) -> str:
    """A valid synthetic personal code."""
    from learning_records.people.pseudonyms import synthetic_personal_code

    return synthetic_personal_code(number)


def enrolment(number: int, **overrides: object) -> dict[str, object]:
    """A valid enrolment item for person `number` (completed INTEG-E in VK on 2024-03-01)."""
    item: dict[str, object] = {
        "source_system": "mps",
        "external_id": f"enr-{number}",
        "personal_code": code(number),
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-03-01",
        "hours": 8,
    }
    item.update(overrides)
    return item


@pytest.fixture
def make_enrolment() -> Callable[..., dict[str, object]]:
    """Factory of valid enrolment items."""
    return enrolment


@pytest.fixture
def make_code() -> Callable[[int], str]:
    """Factory of valid synthetic personal codes."""
    return code
