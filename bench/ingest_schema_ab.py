"""The in-database ingest bound on two schema revisions, batch by batch interleaved.

On a machine shared with other work, two benchmark runs a minute apart see different loads
(the bound alone varied 7,800–30,000 records/s between runs of one morning), which hides a
schema change's effect. Here the same staged rows are written, batch after batch, into two
freshly migrated databases — one at `--before` (a revision), one at head — alternating which
goes first, so both see the same load. Each batch is what `ingest_bench.py`'s in-database
bound writes: new people and their feed rows, the enrolments (every index and foreign key of
that revision), their status steps and feed rows.

    .venv/bin/python bench/ingest_schema_ab.py --before rec0007_lms [--records 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg
from ingest_bench import (
    ADMIN_URL,
    BOUND_STEPS,
    add_data_arguments,
    bound_batch,
    fresh_database,
    generate,
    stage,
)

from learning_records.main import migrations


def main() -> None:
    """Run both schemas interleaved and print their rates and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="rec0007_lms", help="revision of the baseline")
    add_data_arguments(parser, records=200_000)
    args = parser.parse_args()
    rows = generate(args.records, min(args.people, args.records), args.institutions, args.seed)
    revisions = {"before": args.before, "head": "head"}
    seconds = dict.fromkeys(revisions, 0.0)
    ratios: list[float] = []  # per batch: before's time / head's time
    steps: dict[str, dict[str, float]] = {name: {} for name in revisions}
    with fresh_database("bench_ab_before") as before, fresh_database("bench_ab_head") as head:
        urls = {"before": before, "head": head}
        connections = {}
        for name, url in urls.items():
            migrations.upgrade(
                url.replace("postgresql://", "postgresql+psycopg://"), revisions[name]
            )
            stage(url, rows)
            connections[name] = psycopg.connect(url)
        try:
            for number, start in enumerate(range(0, len(rows), args.batch)):
                order = list(revisions) if number % 2 == 0 else list(reversed(revisions))
                took = {}
                for name in order:
                    started = time.perf_counter()
                    bound_batch(connections[name], start, args.batch, steps[name])
                    took[name] = time.perf_counter() - started
                    seconds[name] += took[name]
                ratios.append(took["before"] / took["head"])
            indexes = {
                name: connection.execute(
                    "SELECT count(*) FROM pg_indexes WHERE tablename = 'enrolment'"
                ).fetchone()[0]  # type: ignore[index]
                for name, connection in connections.items()
            }
        finally:
            for connection in connections.values():
                connection.close()
    for name in revisions:
        print(
            f"{name:<7} ({revisions[name]}, {indexes[name]} enrolment indexes): "
            f"{args.records:,} records in {seconds[name]:7.2f} s = "
            f"{args.records / seconds[name]:9,.0f} records/s"
        )
    for step in BOUND_STEPS:
        print(
            f"  {step:<22}"
            + "".join(
                f"  {name} {steps[name][step]:6.2f} s ({steps[name][step] / seconds[name]:4.0%})"
                for name in revisions
            )
        )
    print(
        f"head / before rate: {seconds['before'] / seconds['head']:.3f} over the run, "
        f"median of the {len(ratios)} batches {statistics.median(ratios):.3f}"
    )
    print(
        f"batch {args.batch:,}, interleaved, {os.cpu_count()} CPUs, "
        f"PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}"
    )


if __name__ == "__main__":
    main()
