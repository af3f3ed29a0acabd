"""Ingest benchmark: enrolments pushed in bulk over HTTP into PostgreSQL, beside two bounds.

Generates N enrolment records (default 1,000,000) for 100,000 people in 2,000 institutions
with a fixed seed, starts the learning-records service (uvicorn, a subprocess on a free port)
against a fresh PostgreSQL database it creates and drops, pushes the records in bulk batches,
then measures, in the same run:

- the in-database bound: the same rows, staged in a table of another freshly migrated
  database, written by `INSERT … SELECT` into the real schema (people, enrolments with all
  their indexes, status history and change feed, in batches of the same size, each in its own
  transaction holding the feed lock) — what the service would cost with no client, HTTP,
  parsing or Python at all;
- the raw COPY: the same rows COPYed into a plain table with no index (the physical ceiling).

Prints records/s for each, the service's share of both and its peak memory (VmHWM).

    .venv/bin/python bench/ingest_bench.py [--records 1000000] [--batch 10000] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from learning_records.people.pseudonyms import pseudonymise, synthetic_personal_code
from pilnveide_kit.testing import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_RATE, TARGET_SHARE, TARGET_RSS_MB = 30_000, 0.50, 300
#: The pepper of the bound's pseudonyms (the service uses its own; only the cost matters).
BOUND_PEPPER = "bench-pepper"
COURSES = [f"C{n:03d}" for n in range(60)] + ["INTEG-E", "DIG-1", "ALVAP"]
STATUSES = ["completed"] * 6 + ["registered", "attended", "no_show", "cancelled", "failed"]


def generate(records: int, people: int, institutions: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic enrolment items."""
    rng = random.Random(seed)
    codes = [synthetic_personal_code(n) for n in range(people)]
    start = date(2021, 1, 1)
    items = []
    for n in range(records):
        person = rng.randrange(people)
        status = rng.choice(STATUSES)
        day = (start + timedelta(days=rng.randrange(7 * 365))).isoformat()
        item: dict[str, Any] = {
            "source_system": "mps",
            "external_id": f"enr-{n}",
            "personal_code": codes[person],
            "course_code": rng.choice(COURSES),
            "institution": f"I{person % institutions:04d}",
            "status": status,
            "hours": rng.choice([2, 4, 8, 16, 40]),
        }
        item["completed_on" if status == "completed" else "status_date"] = day
        items.append(item)
    return items


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def service(database_url: str, jwks: str, workers: int) -> Iterator[tuple[str, list[int]]]:
    """The learning-records service in a subprocess; its base URL and the pids of its processes.

    `learning-records serve` runs `workers` processes (RECORDS_WORKERS); it migrates first.
    """
    port = free_port()
    env = {
        **os.environ,
        "RECORDS_DATABASE_URL": database_url,
        "RECORDS_PORT": str(port),
        "RECORDS_AUTH_JWKS_JSON": jwks,
        "RECORDS_AUTH_JWKS_FILE": "",
        "RECORDS_LOG_LEVEL": "WARNING",
        "RECORDS_ENVIRONMENT": "test",
        "RECORDS_WORKERS": str(workers),
    }
    command = [str(ROOT / ".venv/bin/learning-records"), "serve"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        yield base, [process.pid, *(int(c) for c in children)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mb(pids: list[int]) -> float:
    """The processes' peak resident memory (VmHWM), summed, in MB."""
    total = 0.0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def push(base: str, token: str, bodies: list[bytes], concurrency: int) -> dict[str, int]:
    """Post every batch (JSON array bodies) with `concurrency` connections; summed counts."""
    totals = {"accepted": 0, "unchanged": 0, "rejected": 0, "conflict": 0}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(body: bytes) -> dict[str, int]:
        with httpx.Client(timeout=600) as client:
            response = client.post(
                f"{base}/v1/enrolments/bulk",
                content=body,
                headers=headers,
                params={"report": "problems"},
            )
        response.raise_for_status()
        return dict(response.json()["counts"])

    with ThreadPoolExecutor(concurrency) as pool:
        for counts in pool.map(send, bodies):
            for key, value in counts.items():
                totals[key] += value
    return totals


def raw_copy(rows: list[dict[str, Any]]) -> float:
    """Seconds to COPY the same rows into a plain table of a fresh database."""
    with fresh_database("bench_raw") as url, psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TABLE raw_enrolment (source_system text, external_id text, personal_code text,"
            " course_code text, institution text, status text, status_date date, hours real)"
        )
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy("COPY raw_enrolment FROM STDIN") as copy:
            for r in rows:
                copy.write_row(
                    (
                        r["source_system"],
                        r["external_id"],
                        r["personal_code"],
                        r["course_code"],
                        r["institution"],
                        r["status"],
                        r.get("completed_on") or r.get("status_date"),
                        r["hours"],
                    )
                )
        connection.commit()
        return time.perf_counter() - started


def _bound_rows(rows: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """The staged rows: what the service has once it has parsed, checked and hashed an item."""
    pseudonyms: dict[str, str] = {}
    for n, r in enumerate(rows):
        code = r["personal_code"]
        pseudonym = pseudonyms.get(code)
        if pseudonym is None:
            pseudonym = pseudonyms[code] = pseudonymise(code, BOUND_PEPPER)
        completed = r.get("completed_on")
        yield (
            n,
            r["source_system"],
            r["external_id"],
            pseudonym,
            r["course_code"],
            r["institution"],
            r["status"],
            completed or r.get("status_date"),
            completed,
            r["hours"],
            hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest(),
        )


#: One batch of the in-database bound: the feed lock, new people and their feed rows, the
#: enrolments (seq numbered in item order), their feed rows, the counter. A new enrolment
#: writes no status-history row since rec0009_history (its status is its own row's).
_BOUND_BATCH = (
    "SELECT last_seq FROM change_counter WHERE id = 1 FOR UPDATE",
    "CREATE TEMPORARY TABLE new_person ON COMMIT DROP AS"
    " WITH added AS (INSERT INTO person (pseudonym, created_at)"
    "  SELECT DISTINCT s.pseudonym, now() FROM staging s WHERE s.n >= %(a)s AND s.n < %(b)s"
    "  AND NOT EXISTS (SELECT 1 FROM person p WHERE p.pseudonym = s.pseudonym)"
    "  ORDER BY 2 RETURNING id) SELECT id FROM added",
    "INSERT INTO change (seq, entity, op, key, at)"
    " SELECT %(last)s + row_number() OVER (ORDER BY id), 'person', 'create', id::text, now()"
    " FROM new_person",
    "INSERT INTO enrolment (person_id, course_code, institution, status, status_date,"
    " completed_on, hours, source_system, external_id, content_hash, seq, created_at,"
    " updated_at)"
    " SELECT p.id, s.course_code, s.institution, s.status, s.status_date, s.completed_on,"
    " s.hours, s.source_system, s.external_id, s.content_hash,"
    " %(last)s + (SELECT count(*) FROM new_person) + s.n - %(a)s + 1, now(), now()"
    " FROM staging s JOIN person p ON p.pseudonym = s.pseudonym"
    " WHERE s.n >= %(a)s AND s.n < %(b)s",
    "INSERT INTO change (seq, entity, op, key, at)"
    " SELECT seq, 'enrolment', 'create', id::text, now() FROM enrolment WHERE seq > %(last)s",
    "UPDATE change_counter SET last_seq = (SELECT max(seq) FROM change) WHERE id = 1",
)


def stage(url: str, rows: list[dict[str, Any]]) -> None:
    """Stage the rows (pseudonymised and hashed) in an unlogged table of a migrated database."""
    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE UNLOGGED TABLE staging (n int PRIMARY KEY, source_system text,"
            " external_id text, pseudonym text, course_code text, institution text,"
            " status text, status_date date, completed_on date, hours float8,"
            " content_hash text)"
        )
        with connection.cursor() as cursor, cursor.copy("COPY staging FROM STDIN") as copy:
            for row in _bound_rows(rows):
                copy.write_row(row)
        connection.execute(
            "INSERT INTO change_counter (id, last_seq) VALUES (1, 0) ON CONFLICT DO NOTHING"
        )
        connection.commit()
        connection.execute("ANALYZE staging")
        connection.commit()


#: What each statement of _BOUND_BATCH writes (for per-statement timings).
BOUND_STEPS = (
    "feed lock",
    "new people",
    "people's feed rows",
    "enrolments",
    "enrolments' feed rows",
    "feed counter",
)
#: What the service wrote before rec0009_history besides: a status-history row per new
#: enrolment, after the enrolments (for ingest_schema_ab.py's baseline of an older revision).
OLD_HISTORY_STEP = (
    "status history",
    "INSERT INTO enrolment_status_change (enrolment_id, status, status_date, seq)"
    " SELECT id, status, status_date, seq FROM enrolment WHERE seq > %(last)s",
)


def _bound_statements(history_rows: bool) -> list[tuple[str, str]]:
    statements = list(zip(BOUND_STEPS, _BOUND_BATCH, strict=True))
    if history_rows:
        statements.insert(BOUND_STEPS.index("enrolments") + 1, OLD_HISTORY_STEP)
    return statements


def bound_batch(
    connection: psycopg.Connection[Any],
    start: int,
    batch: int,
    timings: dict[str, float] | None = None,
    *,
    history_rows: bool = False,
) -> None:
    """Write staged rows start … start + batch - 1 as the service would, in one transaction;
    with `timings`, add each statement's seconds to it (keys from BOUND_STEPS). With
    history_rows, also a status-history row per enrolment, as before rec0009_history."""
    with connection.transaction():
        began = time.perf_counter()
        last = connection.execute(_BOUND_BATCH[0]).fetchone()[0]  # type: ignore[index]
        params = {"a": start, "b": start + batch, "last": last}
        for step, statement in _bound_statements(history_rows):
            if step != BOUND_STEPS[0]:
                connection.execute(statement, params)
            if timings is not None:
                now = time.perf_counter()
                timings[step] = timings.get(step, 0.0) + now - began
                began = now


def in_database_bound(rows: list[dict[str, Any]], batch: int) -> tuple[float, int]:
    """Seconds to write the staged rows into the real schema by INSERT … SELECT; rows stored."""
    with fresh_database("bench_bound") as url:
        env = {**os.environ, "RECORDS_DATABASE_URL": url, "RECORDS_LOG_LEVEL": "WARNING"}
        subprocess.run([str(ROOT / ".venv/bin/learning-records"), "migrate"], env=env, check=True)
        stage(url, rows)
        with psycopg.connect(url) as connection:
            started = time.perf_counter()
            for a in range(0, len(rows), batch):
                bound_batch(connection, a, batch)
            seconds = time.perf_counter() - started
            stored = connection.execute("SELECT count(*) FROM enrolment").fetchone()[0]  # type: ignore[index]
        return seconds, int(stored)


def add_data_arguments(parser: argparse.ArgumentParser, records: int) -> None:
    """The options of the generated rows and their batches (shared by the ingest benches)."""
    parser.add_argument("--records", type=int, default=records)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--institutions", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20210101)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser, records=1_000_000)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="requests in flight (2: the recommended)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    people = min(args.people, args.records)
    print(
        f"generating {args.records:,} enrolments for {people:,} people in "
        f"{args.institutions:,} institutions (seed {args.seed})",
        flush=True,
    )
    items = generate(args.records, people, args.institutions, args.seed)
    bodies = [
        json.dumps(items[i : i + args.batch], separators=(",", ":")).encode()
        for i in range(0, len(items), args.batch)
    ]
    tokens = TokenFactory()
    token = tokens.token("records:write records:read", lifetime_s=3600)
    with (
        fresh_database("bench_records") as url,
        service(url, tokens.jwks_json, args.workers) as (base, pids),
    ):
        rss_idle = peak_rss_mb(pids)
        started = time.perf_counter()
        counts = push(base, token, bodies, args.concurrency)
        service_seconds = time.perf_counter() - started
        rss = peak_rss_mb(pids)
        with psycopg.connect(url) as connection:
            stored = connection.execute("SELECT count(*) FROM enrolment").fetchone()[0]  # type: ignore[index]
            last_seq = connection.execute("SELECT max(seq) FROM change").fetchone()[0]  # type: ignore[index]
            stored_people = connection.execute("SELECT count(*) FROM person").fetchone()[0]  # type: ignore[index]
    copy_seconds = raw_copy(items)
    bound_seconds, bound_stored = in_database_bound(items, args.batch)
    service_rate = args.records / service_seconds
    copy_rate = args.records / copy_seconds
    bound_rate = args.records / bound_seconds
    print(
        f"service: {counts} stored={stored:,} people={stored_people:,} "
        f"change feed last_seq={last_seq:,}"
    )
    line = "{:<28}: {:>10,} records in {:8.2f} s = {:>10,.0f} records/s"
    print(
        line.format("service end to end", args.records, service_seconds, service_rate)
        + f"   (target >= {TARGET_RATE:,})"
    )
    print(line.format("in-database INSERT … SELECT", bound_stored, bound_seconds, bound_rate))
    print(line.format("raw COPY (no index)", args.records, copy_seconds, copy_rate))
    print(
        f"{'service / INSERT … SELECT':<28}: {service_rate / bound_rate:10.1%}"
        f"   (target >= {TARGET_SHARE:.0%})"
    )
    print(f"{'service / raw COPY':<28}: {service_rate / copy_rate:10.1%}")
    print(
        f"{'service peak RSS':<28}: {rss:10.1f} MB (idle {rss_idle:.1f} MB; "
        f"target < {TARGET_RSS_MB} MB)"
    )
    print(
        f"batch {args.batch:,} items, {args.concurrency} concurrent connections, "
        f"{args.workers} service process(es), "
        f"{os.cpu_count()} CPUs, PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}"
    )
    if stored != counts["accepted"] or counts["accepted"] != args.records:
        sys.exit("not every record was stored")


if __name__ == "__main__":
    main()
