"""Indicator reads under a mixed write load (bulk enrolments + xAPI + reads), beside idle reads.

Creates scratch PostgreSQL databases, loads learning-records' tables with indicators_bench.py's
generator (`--records`, `--people`, `--institutions`), starts learning-records and the indicators
service (the plan's default definitions; the catalog in memory, from the catalog seed) as
uvicorn subprocesses, reads every computed indicator once (so results exist), then:

1. idle: `--readers` clients read random indicators for `--idle-seconds`;
2. load: the same reads for `--seconds` while one client posts bulk enrolments (500 a request)
   and one posts xAPI statements (100 a request) without pause.

It prints read p50/p99 in both phases (target: p99 under load < 1 s) and, when the service says
when a result was computed (`X-Computed-At`), how old the served results were. With
`--compare-root DIR` it first runs the same scenario on the code checked out at DIR (e.g. the
commit before the change, `git archive <commit> | tar -x -C DIR`) and prints both side by side.

    .venv/bin/python bench/indicators_load_bench.py --records 20000 --people 4000 \\
        --institutions 100 --seconds 60 [--compare-root /tmp/base]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
).replace("postgresql+psycopg", "postgresql")
XAPI_KEY, XAPI_SECRET = "bench", "bench-secret"
SOURCES = ("shared/src", "services/learning-records/src", "services/indicators/src")


def _pythonpath(code_root: Path) -> str:
    return os.pathsep.join(str(code_root / part) for part in SOURCES)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database (psycopg URL), dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextmanager
def process(command: list[str], env: dict[str, str], base: str) -> Iterator[str]:
    """A service subprocess, waited for until /readyz answers; its base URL. Its stderr goes to
    a file (a pipe nobody reads would fill and stop the service)."""
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, env=env, stderr=log, cwd=ROOT)
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if child.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{command} did not start: {log.read()[-3000:]!r}")
                time.sleep(0.3)
            yield base
        finally:
            child.terminate()
            child.wait(timeout=60)


def serve_indicators(args: argparse.Namespace) -> None:
    """(In the child process.) The indicators app on the catalog seed, definitions loaded."""
    sys.path.insert(0, str(Path(args.code_root) / "bench"))
    bench = importlib.import_module("indicators_bench")
    import uvicorn

    from indicators.cli import load
    from indicators.definitions.service import default_definitions
    from indicators.main import create_app, migrations
    from indicators.settings import IndicatorsSettings
    from indicators.sources.memory import MemoryCatalog

    data = bench.generate(args.people, args.institutions, args.seed)
    _plan, items = default_definitions()
    codes = [item.code for item in items if item.spec.computed]
    catalog = MemoryCatalog(
        indicator_rows=bench.plan_infos(codes), institution_rows=data.institutions
    )
    settings = IndicatorsSettings()
    migrations.upgrade(settings.database_url)
    load(settings)
    app = create_app(settings, catalog=catalog)
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)


@dataclass
class Reads:
    """Latencies (s) and ages (s) of the served results."""

    seconds: list[float] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)
    failed: int = 0

    def line(self, label: str) -> str:
        if not self.seconds:
            return f"{label}: no reads"
        ordered = sorted(self.seconds)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        text = f"{label}: {len(ordered)} reads, p50 {p50:7.3f} s, p99 {p99:7.3f} s"
        if self.ages:
            ages = sorted(self.ages)
            text += f"; result age p50 {statistics.median(ages):6.2f} s, max {ages[-1]:6.2f} s"
        return text + (f"; {self.failed} failed" if self.failed else "")


def read_for(base: str, token: str, codes: Sequence[str], until: float, out: Reads) -> None:
    """Read random indicators until the deadline (one client)."""
    rng = random.Random()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        while time.monotonic() < until:
            code = rng.choice(codes)
            started = time.perf_counter()
            answer = client.get(f"/v1/indicators/{code}", params={"as_of": "2025-12-31"})
            out.seconds.append(time.perf_counter() - started)
            if answer.status_code != 200:
                out.failed += 1
                continue
            stamp = answer.headers.get("x-computed-at")
            if stamp:
                age = datetime.now(UTC) - datetime.fromisoformat(stamp)
                out.ages.append(age.total_seconds())


def write_bulk(
    base: str, token: str, courses: Sequence[str], until: float, counter: dict[str, int]
) -> None:
    """Post bulk enrolments (500 a request) until the deadline."""
    from learning_records.people.pseudonyms import synthetic_personal_code

    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        while time.monotonic() < until:
            items = []
            for _ in range(500):
                n = counter["bulk"] = counter["bulk"] + 1
                items.append(
                    {
                        "source_system": "load-bench",
                        "external_id": f"load-{uuid.uuid4().hex}",
                        "personal_code": synthetic_personal_code(rng.randrange(50_000)),
                        "course_code": courses[n % len(courses)],
                        "institution": f"I{rng.randrange(100):04d}",
                        "status": "completed",
                        "completed_on": "2025-06-01",
                        "hours": 4,
                    }
                )
            answer = client.post("/v1/enrolments/bulk", json=items)
            if answer.status_code >= 300:
                counter["bulk_failed"] = counter.get("bulk_failed", 0) + 1


def write_xapi(base: str, until: float, counter: dict[str, int]) -> None:
    """Post xAPI statements (100 a request) until the deadline."""
    sys.path.insert(0, str(BENCH))
    xapi = importlib.import_module("xapi_bench")
    import base64

    auth = base64.b64encode(f"{XAPI_KEY}:{XAPI_SECRET}".encode()).decode()
    headers = {
        "X-Experience-API-Version": "1.0.3",
        "Authorization": f"Basic {auth}",
        "Content-Type": "application/json",
    }
    rng = random.Random(11)
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        while time.monotonic() < until:
            batch = [xapi.make_statement(rng, rng.random() < 0.1) for _ in range(100)]
            answer = client.post("/xapi/statements", content=json.dumps(batch))
            if answer.status_code == 200:
                counter["xapi"] = counter.get("xapi", 0) + 100
            else:
                counter["xapi_failed"] = counter.get("xapi_failed", 0) + 1


def scenario(args: argparse.Namespace, code_root: Path) -> tuple[Reads, Reads, dict[str, int]]:
    """One full run on fresh databases with the code at `code_root`."""
    sys.path.insert(0, str(BENCH))
    bench = importlib.import_module("indicators_bench")
    from indicators.definitions.service import default_definitions
    from pilnveide_kit.testing import TokenFactory, free_port

    tokens = TokenFactory()
    env = {**os.environ, "PYTHONPATH": _pythonpath(code_root)}
    with scratch_database("load_records") as records_db, scratch_database("load_ind") as ind_db:
        records_url = records_db.replace("postgresql://", "postgresql+psycopg://")
        migrate = [sys.executable, "-m", "learning_records.cli", "migrate"]
        records_env = {
            **env,
            "RECORDS_DATABASE_URL": records_url,
            "RECORDS_AUTH_JWKS_JSON": tokens.jwks_json,
            "RECORDS_AUTH_JWKS_FILE": "",
            "RECORDS_PSEUDONYM_PEPPER": "load-bench-pepper",
            "RECORDS_LOG_LEVEL": "WARNING",
            "RECORDS_ENVIRONMENT": "test",
            "RECORDS_MIGRATE_ON_START": "false",
            "RECORDS_XAPI_BASIC_DEV_CREDENTIALS": f"{XAPI_KEY}:{XAPI_SECRET}",
        }
        subprocess.run(migrate, env=records_env, check=True, cwd=ROOT)
        data = bench.generate(args.people, args.institutions, args.seed)
        bench.load(records_db, data, args.records, args.seed)
        records_port, indicators_port = free_port(), free_port()
        records_base = f"http://127.0.0.1:{records_port}"
        serve_records = [sys.executable, "-m", "uvicorn", "learning_records.main:create_app"]
        serve_records += ["--factory", "--port", str(records_port), "--no-access-log"]
        serve_records += ["--log-level", "warning"]
        indicators_env = {
            **env,
            "INDICATORS_DATABASE_URL": ind_db.replace("postgresql://", "postgresql+psycopg://"),
            "INDICATORS_PORT": str(indicators_port),
            "INDICATORS_RECORDS_URL": records_base,
            "INDICATORS_AUTH_JWKS_JSON": tokens.jwks_json,
            "INDICATORS_AUTH_JWKS_FILE": "",
            "INDICATORS_SERVICE_TOKEN": tokens.token(
                "records:read", client_id="indicators", lifetime_s=7200
            ),
            "INDICATORS_LOG_LEVEL": "WARNING",
            "INDICATORS_ENVIRONMENT": "test",
            "INDICATORS_MIGRATE_ON_START": "false",
            "INDICATORS_READ_TIMEOUT_S": "600",
        }
        serve_indicators_command = [sys.executable, str(Path(__file__).resolve()), "serve"]
        serve_indicators_command += [f"--code-root={code_root}", f"--people={args.people}"]
        serve_indicators_command += [f"--institutions={args.institutions}", f"--seed={args.seed}"]
        indicators_base = f"http://127.0.0.1:{indicators_port}"
        with (
            process(serve_records, records_env, records_base),
            process(serve_indicators_command, indicators_env, indicators_base),
        ):
            _plan, items = default_definitions()
            codes = [item.code for item in items if item.spec.computed]
            reader = tokens.token("indicators:read", lifetime_s=7200)
            writer = tokens.token("records:write", lifetime_s=7200)
            started = time.perf_counter()
            headers = {"Authorization": f"Bearer {reader}"}
            with ThreadPoolExecutor(4) as pool:  # every indicator once: results exist

                def prime(code: str) -> None:
                    httpx.get(
                        f"{indicators_base}/v1/indicators/{code}",
                        params={"as_of": "2025-12-31"},
                        headers=headers,
                        timeout=600,
                    )

                list(pool.map(prime, codes))
            print(f"  primed {len(codes)} indicators in {time.perf_counter() - started:.1f} s")
            idle = Reads()
            until = time.monotonic() + args.idle_seconds
            threads = [
                threading.Thread(
                    target=read_for, args=(indicators_base, reader, codes, until, idle)
                )
                for _ in range(args.readers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            loaded, counter = Reads(), {"bulk": 0}
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(
                    target=read_for, args=(indicators_base, reader, codes, until, loaded)
                )
                for _ in range(args.readers)
            ]
            threads.append(
                threading.Thread(
                    target=write_bulk,
                    args=(records_base, writer, list(data.courses), until, counter),
                )
            )
            threads.append(threading.Thread(target=write_xapi, args=(records_base, until, counter)))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return idle, loaded, counter


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments (unknown ones from bench/run_all.py are ignored) and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=4_000)
    parser.add_argument("--institutions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--code-root", default=str(ROOT))
    parser.add_argument("--compare-root", default=None, help="code to run first, as the before")
    args, _unknown = parser.parse_known_args(argv)
    if args.mode == "serve":
        serve_indicators(args)
        return 0
    print(
        f"{args.records:,} enrolments, {args.people:,} people, {args.institutions} institutions; "
        f"{args.readers} readers; idle {args.idle_seconds:.0f} s, load {args.seconds:.0f} s"
    )
    runs = []
    if args.compare_root:
        runs.append(("before", Path(args.compare_root)))
    runs.append(("this checkout", Path(args.code_root)))
    worst = 0.0
    for label, root in runs:
        print(f"{label} ({root}):", flush=True)
        idle, loaded, counter = scenario(args, root)
        print("  " + idle.line("idle        "))
        print("  " + loaded.line("under load  ") + "   target p99 < 1 s")
        print(
            f"  written under load: {counter['bulk']:,} enrolments in bulk"
            f" ({counter.get('bulk_failed', 0)} requests failed), {counter.get('xapi', 0):,} "
            f"xAPI statements ({counter.get('xapi_failed', 0)} requests failed)",
            flush=True,
        )
        ordered = sorted(loaded.seconds)
        worst = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
