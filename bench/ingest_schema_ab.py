"""The in-database ingest bound on two schema revisions, batch by batch interleaved.

On a machine shared with other work, two benchmark runs a minute apart see different loads
(the bound alone varied 7,800–30,000 records/s between runs of one morning), which hides a
schema change's effect. Here the same staged rows are written, batch after batch, into two
freshly migrated databases — one at `--before` (a revision), one at head — alternating which
goes first, so both see the same load. Each batch is what `ingest_bench.py`'s in-database
bound writes: new people and their feed rows, the enrolments (every index and foreign key of
that revision), their feed rows, and for a revision before rec0009_history a status-history
row per enrolment (what the service of that revision wrote).

    .venv/bin/python bench/ingest_schema_ab.py --before rec0008_ingest [--records 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg
from alembic.script import ScriptDirectory
from ingest_bench import (
    ADMIN_URL,
    BOUND_STEPS,
    OLD_HISTORY_STEP,
    add_data_arguments,
    bound_batch,
    fresh_database,
    generate,
    stage,
)

from learning_records.main import migrations

#: The first revision whose service writes no status-history row for a new enrolment.
NO_INITIAL_STEP = "rec0009_history"


def writes_history_rows(url: str, revision: str) -> bool:
    """Whether the service of this revision wrote a status-history row per new enrolment."""
    script = ScriptDirectory.from_config(migrations.config(url))
    return NO_INITIAL_STEP not in {r.revision for r in script.iterate_revisions(revision, "base")}


def main() -> None:
    """Run both schemas interleaved and print their rates and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="rec0008_ingest", help="revision of the baseline")
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
        history = {}
        for name, url in urls.items():
            history[name] = writes_history_rows(url, revisions[name])
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
                    bound_batch(
                        connections[name],
                        start,
                        args.batch,
                        steps[name],
                        history_rows=history[name],
                    )
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
    order = list(BOUND_STEPS)
    order.insert(order.index("enrolments") + 1, OLD_HISTORY_STEP[0])
    for step in order:
        print(
            f"  {step:<22}"
            + "".join(
                f"  {name} {steps[name][step]:6.2f} s ({steps[name][step] / seconds[name]:4.0%})"
                if step in steps[name]
                else f"  {name}   —            "
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
