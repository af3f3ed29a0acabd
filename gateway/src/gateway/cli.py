"""Command line: `gateway serve | migrate | prepare | rotate-key`."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client, ensure_client
from gateway.keys import KeyStore, ensure_keys, prune, rotate
from gateway.production import UnsafeConfiguration, ensure_safe_to_start
from gateway.settings import GatewaySettings
from pilnveide_kit.app import run
from pilnveide_kit.db import make_engine, session_scope

#: What the indicators service reads: learning records (aggregates) and the catalog.
INDICATORS_SERVICE_SCOPES = ["records:read", "catalog:read"]
#: What learning-records reads: the catalog, to keep its copy of courses, codes and frameworks.
RECORDS_SERVICE_SCOPES = ["catalog:read"]


def prepare(settings: GatewaySettings, out: TextIO | None = None) -> None:
    """Migrate, make the development signing key once, create or update the configured clients
    (the admin, the indicators service and learning-records)."""
    from gateway.main import migrations

    def say(line: str) -> None:
        print(f"[gateway] {line}", file=out or sys.stdout, flush=True)

    ensure_safe_to_start(settings)
    engine = make_engine(settings.database_url)  # makes var/ for a SQLite file
    migrations.upgrade(settings.database_url)
    if settings.keys_configured:
        say("signing key: from settings")
    elif ensure_keys(settings):
        say(f"signing key: generated into {settings.keys_dir}")
    else:
        dropped = prune(settings)
        say(f"signing key: kept ({settings.keys_dir}); retired keys dropped: {dropped or 'none'}")
    kid = KeyStore(settings).material().kid
    say(f"signing key id (kid): {kid}")
    if settings.admin_client_id is None:
        say(
            f"GATEWAY_ADMIN_CLIENT_ID unset: using the default {settings.effective_admin_client_id}"
        )
    if settings.admin_client_secret is None:
        say(
            "GATEWAY_ADMIN_CLIENT_SECRET unset: using the development default "
            f"{settings.effective_admin_client_secret} (never in production)"
        )
    if settings.indicators_client_secret is None:
        say(
            "GATEWAY_INDICATORS_CLIENT_SECRET unset: using the development default "
            f"{settings.effective_indicators_client_secret} (never in production)"
        )
    if settings.records_client_secret is None:
        say(
            "GATEWAY_RECORDS_CLIENT_SECRET unset: using the development default "
            f"{settings.effective_records_client_secret} (never in production)"
        )
    hasher = SecretHasher(settings)
    try:
        with session_scope(engine) as session:
            outcome = ensure_admin_client(
                session,
                hasher,
                settings.effective_admin_client_id,
                settings.effective_admin_client_secret,
            )
            service_outcome = ensure_client(
                session,
                hasher,
                settings.indicators_client_id,
                settings.effective_indicators_client_secret,
                name="Indicators service",
                scopes=INDICATORS_SERVICE_SCOPES,
            )
            records_outcome = ensure_client(
                session,
                hasher,
                settings.records_client_id,
                settings.effective_records_client_secret,
                name="learning-records (catalog copy)",
                scopes=RECORDS_SERVICE_SCOPES,
            )
    finally:
        engine.dispose()
    say(f"admin client {settings.effective_admin_client_id}: {outcome}")
    say(f"indicators service client {settings.indicators_client_id}: {service_outcome}")
    say(f"records service client {settings.records_client_id}: {records_outcome}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gateway` command."""
    parser = argparse.ArgumentParser(prog="gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser(
        "prepare", help="migrate, generate the dev signing key once, create the admin client"
    )
    sub.add_parser(
        "rotate-key", help="new signing key; the old one stays published until its tokens expire"
    )
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    try:
        if args.command == "serve":
            ensure_safe_to_start(settings)
            run("gateway.main:create_app", settings)
        elif args.command == "migrate":
            from gateway.main import migrations

            migrations.upgrade(settings.database_url)
        elif args.command == "prepare":
            prepare(settings)
        elif args.command == "rotate-key":
            kid = rotate(settings)
            print(f"[gateway] new signing key {kid}; the previous one stays published")
    except (UnsafeConfiguration, RuntimeError) as exc:
        print(f"[gateway] {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
