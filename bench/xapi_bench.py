"""xAPI ingest benchmark: batches of 100 statements POSTed to the LRS on a fresh PostgreSQL DB.

Starts learning-records (uvicorn workers) on a free port against a database it creates and
drops, posts batches of valid statements from a few concurrent clients, and prints statements/s
beside a baseline measured in the same run: COPY of the same statement JSON into a plain table.
Three runs: batches of 100 that map to nothing (target: at least 5,000 statements/s), batches of
100 of which a share maps to enrolments, and POSTs of 1,000 statements that all map to
enrolments (each a completion by a personal code; target: at least 3,000 statements/s).

    .venv/bin/python bench/xapi_bench.py [--batches 200] [--clients 4] [--mapped 0.1]
        [--full-posts 5] [--full-size 1000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REPO = Path(__file__).resolve().parents[1]
KEY, SECRET = "bench", "bench-secret"
VERBS = [
    "http://adlnet.gov/expapi/verbs/experienced",
    "http://adlnet.gov/expapi/verbs/answered",
    "http://adlnet.gov/expapi/verbs/attempted",
    "http://adlnet.gov/expapi/verbs/progressed",
]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def personal_code(number: int) -> str:
    """A valid old-form Latvian personal code, distinct per number (synthetic)."""
    from learning_records.people.pseudonyms import synthetic_personal_code

    return synthetic_personal_code(number)


def make_statement(rng: random.Random, mapped: bool) -> dict[str, Any]:
    """A realistic LMS statement; mapped ones complete a catalog course for a personal code."""
    learner = rng.randrange(20_000)
    if mapped:
        return {
            "id": str(uuid.uuid4()),
            "actor": {
                "objectType": "Agent",
                "account": {
                    "homePage": "https://pilnveide.lv/personal-code",
                    "name": personal_code(learner),
                },
            },
            "verb": {
                "id": "http://adlnet.gov/expapi/verbs/completed",
                "display": {"en-US": "completed"},
            },
            "object": {"id": f"https://pilnveide.lv/courses/C{rng.randrange(50):03d}"},
            "result": {"completion": True, "duration": "PT1H30M"},
            "timestamp": "2025-03-04T10:00:00.000Z",
        }
    module = rng.randrange(200)
    return {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "mbox": f"mailto:learner{learner}@iestade.lv",
            "name": f"Learner {learner}",
        },
        "verb": {"id": rng.choice(VERBS), "display": {"en-US": "did"}},
        "object": {
            "objectType": "Activity",
            "id": f"https://lms.example.lv/modules/{module}",
            "definition": {
                "name": {"lv": f"Modulis {module}"},
                "type": "http://adlnet.gov/expapi/activities/module",
            },
        },
        "context": {
            "registration": str(uuid.uuid4()),
            "platform": "Moodle",
            "contextActivities": {
                "parent": [{"id": f"https://lms.example.lv/courses/{module // 10}"}]
            },
        },
        "result": {"score": {"scaled": round(rng.random(), 2)}, "completion": rng.random() > 0.5},
        "timestamp": "2025-03-04T10:00:00.000Z",
    }


def start_service(
    database: str, port: int, workers: int, batch_size: int
) -> subprocess.Popen[bytes]:
    """learning-records on the database (migrated first), uvicorn workers, quiet logs."""
    env = {
        **os.environ,
        "RECORDS_DATABASE_URL": database,
        "RECORDS_PORT": str(port),
        "RECORDS_LOG_LEVEL": "WARNING",
        "RECORDS_XAPI_BASIC_DEV_CREDENTIALS": f"{KEY}:{SECRET}",
        "RECORDS_XAPI_MAX_BATCH_STATEMENTS": str(batch_size),
        "RECORDS_MIGRATE_ON_START": "false",
    }
    subprocess.run([sys.executable, "-m", "learning_records.cli", "migrate"], env=env, check=True)
    command = [sys.executable, "-m", "uvicorn", "learning_records.main:create_app", "--factory"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the service did not become ready")


def post_batches(port: int, batches: list[list[dict[str, Any]]], clients: int) -> float:
    """POST every batch (clients in parallel); the seconds it took."""
    auth = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    headers = {
        "X-Experience-API-Version": "1.0.3",
        "Authorization": auth,
        "Content-Type": "application/json",
    }
    bodies = [json.dumps(batch).encode() for batch in batches]
    url = f"http://127.0.0.1:{port}/xapi/statements"

    def worker(share: list[bytes]) -> None:
        with httpx.Client(timeout=600) as client:
            for body in share:
                response = client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"POST failed: {response.status_code} {response.text[:300]}")

    shares = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, shares))
    return time.perf_counter() - started


def baseline_copy(database: str, batches: list[list[dict[str, Any]]]) -> float:
    """COPY the same statements' JSON into a plain table, one transaction per batch; seconds."""
    with psycopg.connect(database) as connection:
        connection.execute("CREATE TABLE bench_raw (id uuid PRIMARY KEY, payload text NOT NULL)")
        connection.commit()
        started = time.perf_counter()
        for batch in batches:
            with connection.cursor().copy("COPY bench_raw (id, payload) FROM STDIN") as copy:
                for statement in batch:
                    copy.write_row((statement["id"], json.dumps(statement)))
            connection.commit()
        return time.perf_counter() - started


def run(
    batches_count: int,
    clients: int,
    workers: int,
    mapped_share: float,
    label: str,
    batch_size: int = 100,
) -> tuple[float, float]:
    """One measured run on a fresh database: (LRS statements/s, COPY baseline statements/s)."""
    rng = random.Random(42)
    batches = [
        [make_statement(rng, rng.random() < mapped_share) for _ in range(batch_size)]
        for _ in range(batches_count)
    ]
    warmup = [
        [make_statement(rng, rng.random() < mapped_share) for _ in range(batch_size)]
        for _ in range(1)
    ]
    name = f"xapi_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    port = free_port()
    process = start_service(database, port, workers, batch_size)
    try:
        post_batches(port, warmup, clients)
        seconds = post_batches(port, batches, clients)
        baseline = baseline_copy(database, batches)
    finally:
        process.terminate()
        process.wait(timeout=30)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    total = batches_count * batch_size
    lrs_rate, copy_rate = total / seconds, total / baseline
    print(
        f"{label:<28} {total:>7} statements  LRS {lrs_rate:>8,.0f}/s   "
        f"COPY baseline {copy_rate:>9,.0f}/s   LRS/COPY {lrs_rate / copy_rate:5.1%}"
    )
    return lrs_rate, copy_rate


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--mapped", type=float, default=0.1, help="share of statements that map to enrolments"
    )
    parser.add_argument(
        "--full-posts", type=int, default=5, help="POSTs in the run where every statement maps"
    )
    parser.add_argument(
        "--full-size", type=int, default=1000, help="statements per POST in that run"
    )
    args = parser.parse_args()
    print(
        f"xAPI ingest: batches of 100, {args.clients} clients, PostgreSQL, "
        f"{args.workers} uvicorn worker(s), {os.cpu_count()} CPU cores"
    )
    pure, _ = run(args.batches, args.clients, args.workers, 0.0, "LRS only (nothing maps)")
    mixed, _ = run(
        args.batches,
        args.clients,
        args.workers,
        args.mapped,
        f"{args.mapped:.0%} map to enrolments",
    )
    full, _ = run(
        args.full_posts,
        1,
        args.workers,
        1.0,
        f"100 % map, {args.full_size} per POST",
        batch_size=args.full_size,
    )
    verdict = "meets" if pure >= 5000 else "misses"
    print(f"target 5,000 statements/s: {verdict} ({pure:,.0f}/s; with mapping {mixed:,.0f}/s)")
    verdict = "meets" if full >= 3000 else "misses"
    print(f"target 3,000 statements/s with every statement mapped: {verdict} ({full:,.0f}/s)")


if __name__ == "__main__":
    main()
