"""Alembic helpers: apply a service's migrations and tell whether the database is at head."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool
from sqlalchemy.engine import Engine

from pilnveide_kit.db import normalise_url


class Migrations:
    """One service's Alembic history (its alembic.ini and migrations/ folder)."""

    def __init__(self, service_dir: Path) -> None:
        self.service_dir = service_dir
        self.ini_path = service_dir / "alembic.ini"

    def config(self, url: str) -> Config:
        """An Alembic config bound to a database URL."""
        cfg = Config(str(self.ini_path))
        cfg.set_main_option("script_location", str(self.service_dir / "migrations"))
        cfg.attributes["database_url"] = normalise_url(url)
        return cfg

    def upgrade(self, url: str, revision: str = "head") -> None:
        """Apply migrations up to a revision (head by default)."""
        command.upgrade(self.config(url), revision)

    def heads(self) -> set[str]:
        """The head revisions of the history on disk."""
        return set(ScriptDirectory.from_config(self.config("sqlite://")).get_heads())

    def current(self, engine: Engine) -> set[str]:
        """The revisions the database is at."""
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())

    def at_head(self, engine: Engine) -> bool:
        """True when the database has every migration applied."""
        return self.current(engine) == self.heads()


def run_alembic_env(metadata: MetaData, default_url: Callable[[], str]) -> None:
    """Body of every service's migrations/env.py: online migrations, batch mode on SQLite."""
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or normalise_url(default_url())
    engine = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            compare_server_default=False,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
