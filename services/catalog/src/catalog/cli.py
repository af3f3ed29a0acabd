"""Command line: `catalog serve | migrate | load`."""

from __future__ import annotations

import argparse
from pathlib import Path

from catalog.main import migrations
from catalog.settings import CatalogSettings
from pilnveide_kit.app import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `catalog` command."""
    parser = argparse.ArgumentParser(prog="catalog")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    load = sub.add_parser("load", help="load the reviewed seed files (idempotent)")
    load.add_argument("--seed-dir", type=Path, default=None, help="folder of seed JSON files")
    args = parser.parse_args(argv)
    settings = CatalogSettings()
    if args.command == "migrate":
        migrations.upgrade(settings.database_url)
    elif args.command == "load":
        _load(settings, args.seed_dir)
    elif args.command == "serve":
        run(
            "catalog.main:create_app",
            settings,
            migrate=lambda: migrations.upgrade(settings.database_url),
        )


def _load(settings: CatalogSettings, seed_dir: Path | None) -> None:
    from catalog.loader.run import SEED_DIR, load_all
    from pilnveide_kit.db import make_engine
    from pilnveide_kit.logging import configure_logging

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        for result in load_all(engine, seed_dir or SEED_DIR):
            print(f"[catalog load] {result.name}: {result.status} (version {result.version})")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
