"""Command line: `indicators serve | migrate | load`."""

from __future__ import annotations

import argparse
from pathlib import Path

from indicators.definitions import service as definitions
from indicators.main import migrations
from indicators.settings import IndicatorsSettings
from pilnveide_kit.app import run
from pilnveide_kit.db import make_engine, session_scope


def load(
    settings: IndicatorsSettings, path: Path = definitions.DEFAULTS_FILE
) -> definitions.LoadReport:
    """Load the shipped default definitions (idempotent; API changes are kept)."""
    _plan, items = definitions.default_definitions(path)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            return definitions.load_defaults(session, items)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `indicators` command."""
    parser = argparse.ArgumentParser(prog="indicators")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    loader = sub.add_parser(
        "load", help="load the default indicator definitions of the plan and the strategies"
    )
    loader.add_argument("--file", type=Path, default=None, help="only this file")
    args = parser.parse_args(argv)
    settings = IndicatorsSettings()
    if args.command == "migrate":
        migrations.upgrade(settings.database_url)
    elif args.command == "load":
        files = (
            [args.file]
            if args.file
            else [definitions.DEFAULTS_FILE, *definitions.STRATEGY_DEFAULTS]
        )
        for path in files:
            report = load(settings, path)
            print(
                f"{path.name}: {report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.kept_local} changed through the API "
                "and kept"
            )
    elif args.command == "serve":
        run(
            "indicators.main:create_app",
            settings,
            migrate=lambda: migrations.upgrade(settings.database_url),
        )


if __name__ == "__main__":
    main()
