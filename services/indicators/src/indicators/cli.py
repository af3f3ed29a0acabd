"""Command line: `indicators serve | migrate`."""

from __future__ import annotations

import argparse

from indicators.main import migrations
from indicators.settings import IndicatorsSettings
from pilnveide_kit.app import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `indicators` command."""
    parser = argparse.ArgumentParser(prog="indicators")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    settings = IndicatorsSettings()
    if args.command == "migrate":
        migrations.upgrade(settings.database_url)
    elif args.command == "serve":
        run("indicators.main:create_app", settings)


if __name__ == "__main__":
    main()
