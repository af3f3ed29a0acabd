"""`serve` runs several worker processes only where that is safe: PostgreSQL, migrations first."""

from __future__ import annotations

import os
from typing import Any

import pytest
import uvicorn
from pydantic_settings import SettingsConfigDict

from pilnveide_kit import app as kit_app
from pilnveide_kit.app import run, serve_workers
from pilnveide_kit.settings import ServiceSettings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/somewhere"


class SampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLEWK_", extra="ignore")


def test_sqlite_always_serves_one_process() -> None:
    settings = SampleSettings(database_url="sqlite:///x.db", workers=4)
    assert serve_workers(settings, can_migrate=True) == 1


def test_postgres_serves_the_configured_workers_when_migrations_can_run_first() -> None:
    settings = SampleSettings(database_url=POSTGRES, workers=3)
    assert serve_workers(settings, can_migrate=True) == 3
    assert serve_workers(settings, can_migrate=False) == 1
    separate = SampleSettings(database_url=POSTGRES, workers=3, migrate_on_start=False)
    assert serve_workers(separate, can_migrate=False) == 3


def test_the_setting_is_read_from_the_environment_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMPLEWK_WORKERS", "2")
    assert SampleSettings().workers == 2
    monkeypatch.setenv("SAMPLEWK_WORKERS", "0")
    with pytest.raises(ValueError):
        SampleSettings()


def test_run_migrates_once_then_starts_workers_that_skip_migrations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    started: dict[str, Any] = {}
    monkeypatch.setenv("SAMPLEWK_MIGRATE_ON_START", "true")  # restored after the test
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(kwargs, app=app))
    monkeypatch.setattr(kit_app, "configure_logging", lambda *args: None)
    settings = SampleSettings(database_url=POSTGRES, workers=2)
    run("sample.main:create_app", settings, migrate=lambda: calls.append("migrate"))
    assert calls == ["migrate"]
    assert started["workers"] == 2 and started["app"] == "sample.main:create_app"
    # A worker busy with a large batch (or slow to start) is not killed after 5 s.
    assert started["timeout_worker_healthcheck"] >= 60
    # The workers build their settings from the environment: they must not migrate again.
    assert os.environ["SAMPLEWK_MIGRATE_ON_START"] == "false"
    assert SampleSettings(database_url=POSTGRES).migrate_on_start is False


def test_run_with_one_worker_leaves_migrations_to_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    started: dict[str, Any] = {}
    monkeypatch.delenv("SAMPLEWK_MIGRATE_ON_START", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(kwargs))
    monkeypatch.setattr(kit_app, "configure_logging", lambda *args: None)
    run(
        "sample.main:create_app",
        SampleSettings(database_url="sqlite:///x.db", workers=2),
        migrate=lambda: calls.append("migrate"),
    )
    assert calls == [] and started["workers"] == 1
    assert "SAMPLEWK_MIGRATE_ON_START" not in os.environ
