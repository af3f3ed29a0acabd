"""End-to-end ingest, two versions of the service side by side, batch by batch interleaved.

Separate bench runs on a shared machine see different loads (two adjacent runs of
`ingest_bench.py` differed by ±15 % with no change at all), so a change worth a few percent
cannot be seen by comparing them. This starts two `learning-records serve` processes, each on
a fresh database: "before" imports the service from `--before-src` (a `src` directory of the
learning-records package, e.g. from `git archive <commit> services/learning-records`; its own
migrations are applied, so a schema change is compared too), "after" the installed one. The
same batches are posted to both in turns, one request at a time, alternating which goes first;
each service's seconds are the sum of its own requests.

    git archive <commit> services/learning-records | tar -x -C /tmp/before
    .venv/bin/python bench/ingest_ab.py --before-src /tmp/before/services/learning-records/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from ingest_bench import add_data_arguments, fresh_database, generate, peak_rss_mb, service

from pilnveide_kit.testing import TokenFactory


def main() -> None:
    """Run both services interleaved and print their rates and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-src", type=Path, required=True)
    add_data_arguments(parser, records=200_000)
    args = parser.parse_args()
    items = generate(args.records, min(args.people, args.records), args.institutions, args.seed)
    bodies = [
        json.dumps(items[i : i + args.batch], separators=(",", ":")).encode()
        for i in range(0, len(items), args.batch)
    ]
    tokens = TokenFactory()
    headers = {
        "Authorization": f"Bearer {tokens.token('records:write records:read', lifetime_s=3600)}",
        "Content-Type": "application/json",
    }
    names = ("before", "after")
    seconds = dict.fromkeys(names, 0.0)
    accepted = dict.fromkeys(names, 0)
    ratios: list[float] = []
    with ExitStack() as stack:
        bases, pids = {}, {}
        for name in names:
            url = stack.enter_context(fresh_database(f"bench_ab_{name}"))
            saved = os.environ.get("PYTHONPATH")
            if name == "before":
                os.environ["PYTHONPATH"] = str(args.before_src.resolve())
            try:
                bases[name], pids[name] = stack.enter_context(service(url, tokens.jwks_json, 1))
            finally:
                if saved is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = saved
        client = stack.enter_context(httpx.Client(timeout=600))
        for number, body in enumerate(bodies):
            took = {}
            for name in names if number % 2 == 0 else tuple(reversed(names)):
                started = time.perf_counter()
                response = client.post(
                    f"{bases[name]}/v1/enrolments/bulk",
                    content=body,
                    headers=headers,
                    params={"report": "problems"},
                )
                took[name] = time.perf_counter() - started
                response.raise_for_status()
                seconds[name] += took[name]
                accepted[name] += response.json()["counts"]["accepted"]
            ratios.append(took["before"] / took["after"])
        rss = {name: peak_rss_mb(pids[name]) for name in names}
    for name in names:
        print(
            f"{name:<6}: {accepted[name]:,} accepted in {seconds[name]:7.2f} s = "
            f"{args.records / seconds[name]:8,.0f} records/s, peak RSS {rss[name]:.0f} MB"
        )
    print(
        f"after / before rate: {seconds['before'] / seconds['after']:.3f} over the run, "
        f"median of the {len(ratios)} batches {statistics.median(ratios):.3f}"
    )
    print(f"batch {args.batch:,}, one request at a time, {os.cpu_count()} CPUs")
    if accepted["before"] != args.records or accepted["after"] != args.records:
        raise SystemExit("not every record was accepted")


if __name__ == "__main__":
    main()
