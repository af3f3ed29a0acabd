"""Every service's Alembic history matches its models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from pilnveide_kit.db import normalise_url
from pilnveide_kit.migrations import Migrations
from pilnveide_kit.testing import temporary_database

SERVICES = ["catalog", "learning_records", "indicators", "gateway"]


def _service(package: str) -> tuple[Migrations, MetaData] | None:
    main = importlib.import_module(f"{package}.main")
    migrations = getattr(main, "migrations", None)
    if migrations is None:
        return None
    models = importlib.import_module(f"{package}.models")
    models.load_all_models()
    return migrations, models.metadata


@pytest.mark.parametrize("package", SERVICES)
def test_autogenerate_finds_no_difference(package: str, backend: str, tmp_path: Path) -> None:
    service = _service(package)
    if service is None:
        pytest.skip(f"{package} has no database")
    migrations, metadata = service
    with temporary_database(backend, tmp_path, f"drift_{package}") as url:
        migrations.upgrade(url)
        engine = create_engine(normalise_url(url))
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "render_as_batch": backend == "sqlite"}
                )
                differences = compare_metadata(context, metadata)
                assert migrations.at_head(engine)
        finally:
            engine.dispose()
    assert differences == [], f"models and migrations of {package} differ: {differences}"


@pytest.mark.parametrize("package", SERVICES)
def test_history_has_a_single_head(package: str) -> None:
    service = _service(package)
    if service is None:
        pytest.skip(f"{package} has no database")
    assert len(service[0].heads()) == 1
