"""The plans of the reads that touch `enrolment`, on a database loaded like the ingest bench.

Loads N enrolments (default 1,000,000; the ingest bench's rows, written by its in-database
bound) and one employment for every other person into a fresh database, then calls the read
routes that query enrolments through the real app (a list by period, by institution, by
course; aggregations by period, institutions, courses, for restricted clients; the HR pull; a
retention dry run; a person's history and compliance) and prints, for each SQL statement on
enrolment they ran, the scan nodes of its `EXPLAIN ANALYZE` (which index, how many rows) and
its execution time. Compare the output before and after an index change (rec0008_ingest
dropped ix_enrolment_status_date this way). Single runs: times on a shared machine vary.

    .venv/bin/python bench/enrolment_plans.py [--records 1000000] [--url URL-of-a-loaded-database]
"""

from __future__ import annotations

import argparse
import re
import warnings
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from ingest_bench import ADMIN_URL, bound_batch, fresh_database, generate, stage
from sqlalchemy import event

from learning_records.main import create_app, migrations
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.testing import TokenFactory

YEAR = {"from": "2023-01-01", "to": "2023-12-31"}
#: (what, method, path, body, which client: all institutions, one, or three)
READS: list[tuple[str, str, str, Any, str]] = [
    (
        "list: period only (a quarter)",
        "GET",
        "/v1/enrolments?from=2023-01-01&to=2023-03-31",
        None,
        "all",
    ),
    ("list: institution", "GET", "/v1/enrolments?institution=I0007", None, "all"),
    (
        "list: course and period",
        "GET",
        "/v1/enrolments?course_code=C001&from=2023-01-01&to=2023-03-31",
        None,
        "all",
    ),
    ("list: restricted client", "GET", "/v1/enrolments", None, "one"),
    (
        "aggregation: people over a year",
        "POST",
        "/v1/aggregations/query",
        {"metric": "people", "filter": {"period": YEAR}},
        "all",
    ),
    (
        "aggregation: people over a year, restricted client",
        "POST",
        "/v1/aggregations/query",
        {"metric": "people", "filter": {"period": YEAR}},
        "one",
    ),
    (
        "aggregation: people over a year, two institutions",
        "POST",
        "/v1/aggregations/query",
        {"metric": "people", "filter": {"period": YEAR, "institutions": ["I0007", "I0100"]}},
        "all",
    ),
    (
        "aggregation: hours, two courses over a year",
        "POST",
        "/v1/aggregations/query",
        {"metric": "hours", "filter": {"period": YEAR, "courses": ["C001", "C002"]}},
        "all",
    ),
    (
        "aggregation: people by year, client of three institutions",
        "POST",
        "/v1/aggregations/query",
        {"metric": "people", "group_by": ["year"]},
        "three",
    ),
    ("HR pull from the start", "GET", "/v1/hr/I0007/updates?after=0", None, "one"),
    ("HR pull, late cursor", "GET", "/v1/hr/I0007/updates?after=990000", None, "one"),
    (
        "retention dry run",
        "POST",
        "/v1/privacy/retention",
        {"before": "2021-02-01", "dry_run": True},
        "all",
    ),
    ("data quality: unknown courses", "GET", "/v1/data-quality/unknown-courses", None, "one"),
    ("institution compliance", "GET", "/v1/institutions/I0007/compliance", None, "one"),
]


def load(url: str, records: int, batch: int) -> None:
    """Migrate, write the bench's enrolments by the bound's statements, add employment."""
    migrations.upgrade(url.replace("postgresql://", "postgresql+psycopg://"))
    stage(url, generate(records, 100_000, 2_000, 20210101))
    with psycopg.connect(url) as connection:
        for start in range(0, records, batch):
            bound_batch(connection, start, batch)
        connection.execute(
            "INSERT INTO employment (source_system, external_id, content_hash, seq, created_at,"
            " updated_at, person_id, institution, valid_from, sector, position_group,"
            " civil_servant)"
            " SELECT 'hr', 'emp-' || p.id, 'x', 100000000 + p.id, now(), now(), p.id,"
            " 'I' || lpad((p.id % 2000)::text, 4, '0'), date '2020-01-01', 'state',"
            " 'specialist', false FROM person p WHERE p.id % 2 = 0"
        )
        connection.execute("DROP TABLE staging")
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def explain(url: str) -> None:
    """Run the reads through the app and print the plans of their statements on enrolment."""
    tokens = TokenFactory()
    settings = LearningRecordsSettings(
        database_url=url.replace("postgresql://", "postgresql+psycopg://"),
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )
    app = create_app(settings)
    clients = {
        "all": tokens.headers("records:read records:erase"),
        "one": tokens.headers("records:read", institutions=["I0007"]),
        "three": tokens.headers("records:read", institutions=["I0007", "I0100", "I1500"]),
    }
    captured: list[tuple[str, Any]] = []
    with TestClient(app) as client:
        engine = app.state.engine

        @event.listens_for(engine, "before_cursor_execute")
        def grab(_c: Any, _cu: Any, statement: str, parameters: Any, *_: Any) -> None:
            if "enrolment" in statement and statement.lstrip().upper().startswith("SELECT"):
                captured.append((statement, parameters))

        with engine.connect() as connection:
            pseudonym = connection.exec_driver_sql(
                "SELECT p.pseudonym FROM person p JOIN enrolment e ON e.person_id = p.id"
                " AND e.institution = 'I0007' LIMIT 1"
            ).scalar()
        reads = [
            *READS,
            ("person history", "GET", f"/v1/people/{pseudonym}/history", None, "one"),
            ("person compliance", "GET", f"/v1/people/{pseudonym}/compliance", None, "one"),
        ]
        for what, method, path, body, who in reads:
            captured.clear()
            response = client.request(method, path, json=body, headers=clients[who])
            print(f"### {what}: {method} {path.split('?')[0]} -> {response.status_code}")
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                for statement, parameters in captured:
                    cursor.execute("EXPLAIN (ANALYZE) " + statement, parameters)
                    for (line,) in cursor.fetchall():
                        if re.search(r"Scan|Execution Time", line) and "never executed" not in line:
                            print("    " + re.sub(r"\(cost=[^)]*\) ", "", line.strip()))
                raw.rollback()
            finally:
                raw.close()


def main() -> None:
    """Load a database and print the plans."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--url", help="explain an already loaded database instead")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.url:
        explain(args.url)
        return
    with fresh_database("bench_plans") as url:
        load(url, args.records, args.batch)
        explain(url)
    print(f"{args.records:,} enrolments, PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}")


if __name__ == "__main__":
    main()
