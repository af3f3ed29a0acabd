"""The gateway hop: the same requests straight to learning-records and through the gateway.

Starts learning-records (uvicorn, PostgreSQL: a fresh database it creates and drops; `--sqlite`
for a file in a temporary folder) and the gateway (`gateway prepare`, `gateway serve`, its own
SQLite registry) as real processes on free ports; the service trusts the gateway's keys and
reads its revocation view, as deployed. A bench client (scopes records:read records:write, a
rate limit of its own high enough never to answer 429) gets one token, used for both paths.

Two requests, each at 1 and at 32 connections (HTTP/1.1 keep-alive, a minimal asyncio client
so the load generator costs little CPU on a small machine):

- a small GET: `GET /v1/enrolments?limit=1` (audited by the gateway: it reads personal data);
- a bulk POST of the same 1,000 enrolments (`POST /v1/enrolments/bulk`; after the first, each
  changes nothing — the same work for both paths).

Direct and gateway runs alternate within each case so both see the same machine. Prints, side
by side, p50 and p99 latency and throughput of each path, the p50 the hop adds and the gateway's
share of the direct throughput, beside the targets (≤ 1 ms added at p50, ≥ 70 %).

    .venv/bin/python bench/gateway_bench.py [--seconds 4] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from learning_records.people.pseudonyms import synthetic_personal_code

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_ADDED_P50_MS, TARGET_SHARE = 1.0, 0.70
DEV_ADMIN = ("pilnveide-admin", "pilnveide-dev-admin-secret")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"bench_gw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    """Until url answers 200 (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.2)


@contextmanager
def process(
    command: list[str], env: dict[str, str], ready: str, what: str, log: Path
) -> Iterator[int]:
    """A server process, stopped afterwards; its log (INFO, as deployed) in a file."""
    output = log.open("wb")
    started = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(ready, started, what)
        yield started.pid
    finally:
        started.terminate()
        started.wait(timeout=30)
        output.close()


@dataclass
class Stack:
    """Where the two paths start, and the bench client's token."""

    direct: str
    gateway: str
    token: str
    gateway_pid: int


@contextmanager
def stack(var: Path, records_db: str) -> Iterator[Stack]:
    """learning-records and the gateway, the bench client registered."""
    gateway_port, records_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    direct = f"http://127.0.0.1:{records_port}"
    gateway_env = {
        "PILNVEIDE_VAR_DIR": str(var),
        "GATEWAY_DATABASE_URL": f"sqlite:///{var / 'gateway.db'}",
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_RECORDS_URL": direct,
        "GATEWAY_LOG_LEVEL": "INFO",
        "GATEWAY_ENVIRONMENT": "development",
        # Never a 429: the bench measures the hop, not the limit.
        "GATEWAY_RATE_LIMIT_PER_S": "1000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000",
    }
    bin_dir = ROOT / ".venv" / "bin"
    subprocess.run(
        [str(bin_dir / "gateway"), "prepare"],
        env={**os.environ, **gateway_env},
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    records_env = {
        "PILNVEIDE_VAR_DIR": str(var),
        "RECORDS_DATABASE_URL": records_db,
        "RECORDS_PORT": str(records_port),
        "RECORDS_AUTH_JWKS_FILE": str(var / "keys" / "jwks.json"),
        "RECORDS_AUTH_REVOCATIONS_URL": f"{gateway}/auth/revocations",
        "RECORDS_LOG_LEVEL": "INFO",
        "RECORDS_ENVIRONMENT": "development",
    }
    with ExitStack() as running:
        gateway_pid = running.enter_context(
            process(
                [str(bin_dir / "gateway"), "serve"],
                gateway_env,
                f"{gateway}/healthz",
                "gateway",
                var / "gateway.log",
            )
        )
        running.enter_context(
            process(
                [str(bin_dir / "learning-records"), "serve"],
                records_env,
                f"{direct}/readyz",
                "learning-records",
                var / "records.log",
            )
        )
        token = bench_token(gateway)
        yield Stack(direct, gateway + "/records", token, gateway_pid)


def bench_token(gateway: str) -> str:
    """Register the bench client and get its token."""
    admin = httpx.post(
        f"{gateway}/auth/token", data={"grant_type": "client_credentials"}, auth=DEV_ADMIN
    )
    admin.raise_for_status()
    body = {
        "client_id": "gateway-bench",
        "name": "gateway bench",
        "scopes": ["records:read", "records:write"],
    }
    created = httpx.post(
        f"{gateway}/admin/clients",
        json=body,
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
    )
    created.raise_for_status()
    token = httpx.post(
        f"{gateway}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("gateway-bench", created.json()["client_secret"]),
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


def bulk_body(items: int) -> bytes:
    """The same enrolments every time: after the first request, each changes nothing."""
    rows: list[dict[str, Any]] = []
    for n in range(items):
        rows.append(
            {
                "source_system": "bench",
                "external_id": f"gw-{n}",
                "personal_code": synthetic_personal_code(n),
                "course_code": f"C{n % 40:03d}",
                "institution": f"I{n % 50:03d}",
                "status": "completed",
                "completed_on": "2026-03-01",
                "hours": 8,
            }
        )
    return json.dumps(rows).encode()


# --- a minimal HTTP/1.1 keep-alive client -----------------------------------------------------


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    body = b""
    if "content-length" in fields:
        body = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:size]
            if size == 0:
                break
    return status, body


@dataclass(frozen=True)
class Case:
    """One request, sent over and over."""

    name: str
    method: str
    path: str
    body: bytes = b""


def _request_bytes(base: str, case: Case, token: str) -> tuple[str, int, bytes]:
    url = httpx.URL(base + case.path)
    head = (
        f"{case.method} {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
    )
    if case.body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(case.body)}\r\n"
    return url.host, int(url.port or 80), (head + "\r\n").encode() + case.body


async def _load(
    base: str, case: Case, token: str, connections: int, seconds: float, max_requests: int
) -> tuple[list[float], float, dict[int, int], list[str]]:
    host, port, raw = _request_bytes(base, case, token)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    problems: list[str] = []
    stop_at = time.perf_counter() + seconds
    sent = 0

    async def worker() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        try:
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                began = time.perf_counter()
                writer.write(raw)
                status, body = await _read_answer(reader)
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 300:
                    problems.append(body[:300].decode(errors="replace"))
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, time.perf_counter() - began, statuses, problems


@dataclass(frozen=True)
class Figures:
    """Latency and throughput of one path."""

    p50_ms: float
    p99_ms: float
    per_s: float
    requests: int


def measure(
    base: str, case: Case, token: str, connections: int, seconds: float, max_requests: int
) -> Figures:
    """Send the case for `seconds` (or max_requests) over `connections` connections."""
    latencies, elapsed, statuses, problems = asyncio.run(
        _load(base, case, token, connections, seconds, max_requests)
    )
    bad = {s: n for s, n in statuses.items() if s >= 300}
    if bad:
        raise RuntimeError(f"{case.name} via {base}: unexpected answers {bad}: {problems[:2]}")
    p99 = (
        statistics.quantiles(latencies, n=100, method="inclusive")[98]
        if len(latencies) > 1
        else latencies[0]
    )
    return Figures(
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=p99 * 1000,
        per_s=len(latencies) / elapsed,
        requests=len(latencies),
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def combine(runs: list[Figures]) -> Figures:
    """Rounds of one path: the median of each figure."""
    return Figures(
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        per_s=statistics.median(r.per_s for r in runs),
        requests=sum(r.requests for r in runs),
    )


def _show_problems(var: Path) -> None:
    """Warnings and errors the two processes logged, if any."""
    for name in ("gateway.log", "records.log"):
        lines = [
            line
            for line in (var / name).read_text(errors="replace").splitlines()
            if '"level": "info"' not in line and '"level": "debug"' not in line
        ]
        if lines:
            print(f"{name}: {len(lines)} lines above INFO, the last:", *lines[-5:], sep="\n  ")


def main() -> int:
    """Run every case on both paths and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per case and path")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two paths")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    cases = [
        (Case("GET enrolments?limit=1", "GET", "/v1/enrolments?limit=1"), 1_000_000),
        (
            Case("POST bulk 1,000", "POST", "/v1/enrolments/bulk", bulk_body(1000)),
            1_000_000,
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="pilnveide-gwbench-") as temp, ExitStack() as held:
        var = Path(temp)
        database = (
            f"sqlite:///{var / 'records.db'}"
            if args.sqlite
            else held.enter_context(postgres_database())
        )
        running = held.enter_context(stack(var, database))
        held.callback(_show_problems, var)
        print(
            f"gateway hop: learning-records on {'SQLite' if args.sqlite else 'PostgreSQL'}, "
            f"{os.cpu_count()} CPU cores, {args.rounds} rounds of "
            f"{args.seconds / args.rounds:.1f} s "
            "per path and case (medians)",
            flush=True,
        )
        # Warm both paths (and store the bulk rows once, so every later request is the same).
        for case, _ in cases:
            for base in (running.direct, running.gateway):
                measure(base, case, running.token, 1, 0.5, 3)
        header = (
            f"{'request':<24}{'conns':>6} | {'direct p50':>10} {'p99':>8} {'req/s':>8} | "
            f"{'gateway p50':>11} {'p99':>8} {'req/s':>8} | {'added p50':>9} {'share':>6} | "
            f"{'gw CPU/req':>10}"
        )
        print(header)
        print("-" * len(header))
        for case, limit in cases:
            for connections in (1, 32):
                direct: list[Figures] = []
                through: list[Figures] = []
                cpu = 0.0
                for _ in range(args.rounds):
                    slice_s = args.seconds / args.rounds
                    direct.append(
                        measure(running.direct, case, running.token, connections, slice_s, limit)
                    )
                    before = cpu_seconds(running.gateway_pid)
                    through.append(
                        measure(running.gateway, case, running.token, connections, slice_s, limit)
                    )
                    cpu += cpu_seconds(running.gateway_pid) - before
                d, g = combine(direct), combine(through)
                added = g.p50_ms - d.p50_ms
                share = g.per_s / d.per_s
                print(
                    f"{case.name:<24}{connections:>6} | {d.p50_ms:>8.2f}ms {d.p99_ms:>6.1f}ms "
                    f"{d.per_s:>8.1f} | {g.p50_ms:>9.2f}ms {g.p99_ms:>6.1f}ms {g.per_s:>8.1f} | "
                    f"{added:>7.2f}ms {share:>6.0%} | {cpu * 1000 / g.requests:>8.2f}ms",
                    flush=True,
                )
        print(
            f"load average during the run: {os.getloadavg()[0]:.1f} "
            "(figures on a loaded machine are noisy; gw CPU/req — the gateway process's CPU time "
            "per request — depends least on the load)"
        )
        print(
            f"targets: added p50 <= {TARGET_ADDED_P50_MS:.0f} ms, gateway throughput >= "
            f"{TARGET_SHARE:.0%} of direct"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
