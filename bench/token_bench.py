"""Token endpoint under attack: 50 concurrent wrong-secret requests against a real gateway.

Starts the gateway as a real process (`gateway prepare`, then `gateway serve`, SQLite in a
temporary folder, the production Argon2 cost: t=3, m=64 MiB, p=4), and for two set-ups sends
`--attempts` concurrent `POST /auth/token` with a wrong secret for the admin client id:

- defaults: the failure throttle answers most of them 429 before any hashing;
- throttle off (limits raised to 100,000): every attempt reaches Argon2, so only the bound on
  concurrent hashing (GATEWAY_ARGON2_MAX_CONCURRENT) keeps memory flat.

For each it prints the gateway's peak RSS (VmHWM) beside its idle RSS measured in the same run,
the answers it gave, and the latency of /healthz for another caller, idle and during the attack.
Target: peak RSS under 300 MB. Linux only (reads /proc).

    .venv/bin/python bench/token_bench.py [--attempts 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 300.0


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (current) or VmHWM (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found for {pid}")


def start_gateway(var_dir: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """`gateway prepare` then `gateway serve` on port; waits until /healthz answers."""
    env = {
        **os.environ,
        "PILNVEIDE_VAR_DIR": str(var_dir),
        "GATEWAY_DATABASE_URL": f"sqlite:///{var_dir / 'gateway.db'}",
        "GATEWAY_PORT": str(port),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **extra,
    }
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "prepare"],
        env=env,
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("the gateway exited during start-up")
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the gateway did not start")


async def healthz_latency_ms(client: httpx.AsyncClient, count: int) -> float:
    """Median latency of /healthz over count sequential calls."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await client.get("/healthz")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def attack(port: int, attempts: int) -> tuple[Counter[int], float, float]:
    """Concurrent wrong secrets; returns status counts, idle and attacked /healthz latency."""
    limits = httpx.Limits(max_connections=attempts + 5)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits
    ) as client:
        idle = await healthz_latency_ms(client, 20)

        async def wrong() -> int:
            answer = await client.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=("pilnveide-admin", "not-the-secret"),
            )
            return answer.status_code

        storm = asyncio.gather(*(wrong() for _ in range(attempts)))
        await asyncio.sleep(0.05)
        during = await healthz_latency_ms(client, 20)
        statuses = Counter(await storm)
    return statuses, idle, during


def run(label: str, attempts: int, extra: dict[str, str]) -> float:
    """One set-up: start, measure idle, attack, measure peak; returns the peak RSS in MB."""
    with tempfile.TemporaryDirectory(prefix="token_bench_") as folder:
        port = free_port()
        process = start_gateway(Path(folder), port, extra)
        try:
            idle_mb = memory_mb(process.pid, "VmRSS")
            statuses, idle_ms, during_ms = asyncio.run(attack(port, attempts))
            peak_mb = memory_mb(process.pid, "VmHWM")
        finally:
            process.terminate()
            process.wait(timeout=30)
    answers = ", ".join(f"{count}×{status}" for status, count in sorted(statuses.items()))
    print(
        f"{label:<34} idle RSS {idle_mb:6.0f} MB   peak RSS {peak_mb:6.0f} MB   "
        f"answers {answers:<16} /healthz {idle_ms:5.1f} ms idle, {during_ms:6.1f} ms during"
    )
    return peak_mb


def main() -> None:
    """Run both set-ups and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=50)
    args, _unknown = parser.parse_known_args()
    print(
        f"/auth/token: {args.attempts} concurrent wrong secrets, Argon2id t=3 m=64 MiB p=4, "
        f"{os.cpu_count()} CPU cores"
    )
    peaks = [
        run("defaults (throttle + 2 hashes)", args.attempts, {}),
        run(
            "throttle off (2 hashes at a time)",
            args.attempts,
            {
                "GATEWAY_TOKEN_FAILURES_PER_CLIENT": "100000",
                "GATEWAY_TOKEN_FAILURES_PER_ADDRESS": "100000",
            },
        ),
    ]
    worst = max(peaks)
    verdict = "meets" if worst < TARGET_MB else "misses"
    print(f"target peak RSS < {TARGET_MB:.0f} MB: {verdict} (worst {worst:.0f} MB)")


if __name__ == "__main__":
    main()
