"""`make run`: migrate, load reference data, start the three services and the gateway locally.

Everything runs on localhost with SQLite files under var/ unless the usual environment
variables (CATALOG_DATABASE_URL, RECORDS_DATABASE_URL, …) say otherwise. Ctrl-C stops all.
Running it again keeps the data: migrations and loaders are idempotent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR_DIR = Path(os.environ.get("PILNVEIDE_VAR_DIR", ROOT / "var"))


@dataclass(frozen=True)
class Process:
    """One process to prepare and serve."""

    name: str
    module: str
    port_env: str
    default_port: int
    prepare: tuple[tuple[str, ...], ...] = ()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(os.environ.get(self.port_env, self.default_port))


PROCESSES = [
    Process("catalog", "catalog.cli", "CATALOG_PORT", 8001, (("migrate",), ("load",))),
    Process("learning-records", "learning_records.cli", "RECORDS_PORT", 8002, (("migrate",),)),
    Process("indicators", "indicators.cli", "INDICATORS_PORT", 8003, (("migrate",), ("load",))),
    Process("gateway", "gateway.cli", "GATEWAY_PORT", 8000, (("prepare",),)),
]


def _supports(module: str, command: str) -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False
    )
    return command in probe.stdout


def _wait_healthy(name: str, port: int, child: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/healthz"
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{name} exited with code {child.returncode}; see the log above")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not become healthy on port {port} within {timeout_s:.0f}s")


def main() -> int:
    """Prepare and start everything; stop everything on Ctrl-C or SIGTERM."""
    os.chdir(ROOT)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    gateway_port = int(env.get("GATEWAY_PORT", 8000))
    for name, key in (("CATALOG", "catalog"), ("RECORDS", "records"), ("INDICATORS", "indicators")):
        port = next(p.port for p in PROCESSES if p.port_env == f"{name}_PORT")
        env.setdefault(f"GATEWAY_{key.upper()}_URL", f"http://127.0.0.1:{port}")
    env.setdefault("INDICATORS_CATALOG_URL", env["GATEWAY_CATALOG_URL"])
    env.setdefault("INDICATORS_RECORDS_URL", env["GATEWAY_RECORDS_URL"])
    # The indicators service signs in at the gateway as the client `gateway prepare` creates.
    env.setdefault("INDICATORS_TOKEN_URL", f"http://127.0.0.1:{gateway_port}/auth/token")
    env.setdefault(
        "INDICATORS_CLIENT_ID", env.get("GATEWAY_INDICATORS_CLIENT_ID", "indicators-service")
    )
    env.setdefault(
        "INDICATORS_CLIENT_SECRET",
        env.get("GATEWAY_INDICATORS_CLIENT_SECRET", "pilnveide-dev-indicators-secret"),
    )
    # Services refuse tokens of clients the gateway revoked (its view, cached a few seconds).
    for prefix in ("CATALOG", "RECORDS", "INDICATORS"):
        env.setdefault(
            f"{prefix}_AUTH_REVOCATIONS_URL", f"http://127.0.0.1:{gateway_port}/auth/revocations"
        )

    # The gateway prepares first: its keys and clients exist before anything asks for them.
    for process in [PROCESSES[-1], *PROCESSES[:-1]]:
        for step in process.prepare:
            if step[0] in ("load", "prepare") and not _supports(process.module, step[0]):
                continue
            print(f"[run] {process.name}: {' '.join(step)}", flush=True)
            subprocess.run([sys.executable, "-m", process.module, *step], env=env, check=True)

    children: list[tuple[Process, subprocess.Popen[bytes]]] = []

    def stop(*_: object) -> None:
        for _process, child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for _process, child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def on_sigterm(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    run_dir = VAR_DIR / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        for process in PROCESSES:
            child = subprocess.Popen([sys.executable, "-m", process.module, "serve"], env=env)
            children.append((process, child))
            (run_dir / f"{process.name}.pid").write_text(str(child.pid))
            _wait_healthy(process.name, process.port, child, timeout_s=120)
        print("\nPilnveide is running:", flush=True)
        print(f"  gateway           http://127.0.0.1:{gateway_port}  (docs: /docs)")
        for process in PROCESSES[:-1]:
            print(f"  {process.name:<17} http://127.0.0.1:{process.port}")
        print("Press Ctrl-C to stop.\n", flush=True)
        # A process that dies is reported; the others keep serving (the gateway answers 503
        # for the dead one), as they would in a real deployment. Ctrl-C stops everything.
        reported: set[str] = set()
        while any(child.poll() is None for _p, child in children):
            for process, child in children:
                if child.poll() is not None and process.name not in reported:
                    reported.add(process.name)
                    print(
                        f"[run] {process.name} exited with code {child.returncode}",
                        file=sys.stderr,
                        flush=True,
                    )
            time.sleep(0.5)
        print("[run] every process has exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n[run] stopping…", flush=True)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
