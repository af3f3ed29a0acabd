"""Command line: `learning-records serve | migrate`."""

from __future__ import annotations

import argparse

from learning_records.main import migrations
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.app import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `learning-records` command."""
    parser = argparse.ArgumentParser(prog="learning-records")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service")
    sub.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    settings = LearningRecordsSettings()
    if args.command == "migrate":
        migrations.upgrade(settings.database_url)
    elif args.command == "serve":
        run(
            "learning_records.main:create_app",
            settings,
            migrate=lambda: migrations.upgrade(settings.database_url),
        )


if __name__ == "__main__":
    main()
