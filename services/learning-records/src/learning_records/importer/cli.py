"""Command line of `records-import`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx

from learning_records.importer.core import ImportFailed, run_import

#: Exit status after Ctrl-C, as a shell reports a process ended by SIGINT.
INTERRUPTED = 130


def default_url() -> str:
    """The records API through the local gateway, on GATEWAY_PORT like `make run` (8000)."""
    return f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}/records"


def _token_provider(args: argparse.Namespace, client: httpx.Client) -> TokenSource:
    if args.token:
        return TokenSource(static=args.token)
    if args.client_id and args.client_secret:
        return TokenSource(
            client=client,
            token_url=args.token_url or args.url.rstrip("/").rsplit("/", 1)[0] + "/auth/token",
            client_id=args.client_id,
            client_secret=args.client_secret,
        )
    raise SystemExit("give --token (or RECORDS_IMPORT_TOKEN) or --client-id and --client-secret")


class TokenSource:
    """A bearer token: fixed, or fetched with client credentials and renewed before expiry."""

    def __init__(
        self,
        *,
        static: str | None = None,
        client: httpx.Client | None = None,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.static, self.client, self.token_url = static, client, token_url
        self.client_id, self.client_secret = client_id, client_secret
        self.token, self.expires = "", 0.0

    def __call__(self) -> str:
        """The token to send now."""
        if self.static:
            return self.static
        if time.monotonic() > self.expires - 30:
            assert self.client is not None and self.token_url is not None
            response = self.client.post(
                self.token_url,
                data={"grant_type": "client_credentials", "scope": "records:write"},
                auth=(str(self.client_id), str(self.client_secret)),
            )
            response.raise_for_status()
            document = response.json()
            self.token = str(document["access_token"])
            self.expires = time.monotonic() + float(document.get("expires_in", 300))
        return self.token


def main(argv: list[str] | None = None) -> int:
    """Entry point of `records-import`."""
    parser = argparse.ArgumentParser(
        prog="records-import",
        description="Stream a CSV or NDJSON export (HR roster, LMS history) to the records API "
        "in batches; rejected rows go to a file; rerun the same command to resume.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--kind",
        required=True,
        choices=[
            "people",
            "employment",
            "headcounts",
            "enrolments",
            "results",
            "certificates",
            "feedback",
            "assessments",
            "course-tags",
        ],
    )
    url = os.environ.get("RECORDS_IMPORT_URL") or default_url()
    parser.add_argument(
        "--url",
        default=url,
        help=f"records API base (default {url}: RECORDS_IMPORT_URL, else the local gateway "
        "on GATEWAY_PORT)",
    )
    parser.add_argument("--token", default=os.environ.get("RECORDS_IMPORT_TOKEN"))
    parser.add_argument("--client-id", default=os.environ.get("RECORDS_IMPORT_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("RECORDS_IMPORT_CLIENT_SECRET"))
    parser.add_argument("--token-url", default=None, help="default: <gateway>/auth/token")
    parser.add_argument("--format", choices=["csv", "ndjson"], default=None)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rejects", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--mode", choices=["per_item", "all_or_nothing"], default="per_item")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as client:
        tokens = _token_provider(args, client)
        try:
            stats = run_import(
                args.file,
                kind=args.kind,
                base_url=args.url,
                token_provider=tokens,
                client=client,
                fmt=args.format,
                batch_size=args.batch_size,
                rejects=args.rejects,
                checkpoint=args.checkpoint,
                mode=args.mode,
                progress=None if args.quiet else sys.stderr,
            )
        except (ImportFailed, httpx.HTTPError) as exc:
            print(f"records-import: {exc}; rerun the same command to resume", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            # The checkpoint holds every batch the server answered; the next run resumes there.
            print("\nrecords-import: interrupted; run again to resume", file=sys.stderr)
            return INTERRUPTED
    c = stats.counts
    print(
        f"{stats.rows} rows in {stats.batches} batches: {c['accepted']} accepted, "
        f"{c['unchanged']} unchanged, {c['rejected']} rejected, {c['conflict']} conflicts"
    )
    return 1 if c["rejected"] or c["conflict"] else 0


if __name__ == "__main__":
    sys.exit(main())
