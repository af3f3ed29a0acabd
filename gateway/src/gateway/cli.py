"""Command line: `gateway serve`."""

from __future__ import annotations

import argparse

from gateway.settings import GatewaySettings
from pilnveide_kit.app import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gateway` command."""
    parser = argparse.ArgumentParser(prog="gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway")
    args = parser.parse_args(argv)
    if args.command == "serve":
        run("gateway.main:create_app", GatewaySettings())


if __name__ == "__main__":
    main()
