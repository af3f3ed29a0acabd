"""Command line: `catalog serve | migrate`."""

from __future__ import annotations

import argparse

from catalog.main import migrations
from catalog.settings import CatalogSettings
from pilnveide_kit.app import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `catalog` command."""
    parser = argparse.ArgumentParser(prog="catalog")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    settings = CatalogSettings()
    if args.command == "migrate":
        migrations.upgrade(settings.database_url)
    elif args.command == "serve":
        run("catalog.main:create_app", settings)


if __name__ == "__main__":
    main()
