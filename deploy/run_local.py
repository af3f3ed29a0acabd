"""`make run`: migrate, load reference data, start the three services and the gateway locally.

Everything runs on localhost with SQLite files under var/ unless the usual environment
variables (CATALOG_DATABASE_URL, RECORDS_DATABASE_URL, …) say otherwise. Each service serves one
process; with a PostgreSQL URL, RECORDS_WORKERS=2 (etc.) gives it more (on SQLite it stays one,
see docs/configuration.md). Ctrl-C stops all and
exits 0. Running it again keeps the data: migrations and loaders are idempotent. On a terminal
the output is one readable line per event, prefixed with the process's name (JSON lines
otherwise; PILNVEIDE_LOG_FORMAT=text|json forces either, see local_console.py).
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

from local_console import Console, banner, own_the_terminal

ROOT = Path(__file__).resolve().parents[1]
VAR_DIR = Path(os.environ.get("PILNVEIDE_VAR_DIR", ROOT / "var"))
#: The development admin client `gateway prepare` creates when GATEWAY_ADMIN_CLIENT_* are unset
#: (the gateway's DEV_ADMIN_CLIENT_*; this script runs before anything is importable).
DEV_ADMIN_CLIENT_ID = "pilnveide-admin"
DEV_ADMIN_SECRET = "pilnveide-dev-admin-secret"  # noqa: S105 - the documented development default

#: Origins of a frontend's local dev server that `make run` lets call the API (CORS).
DEV_FRONTEND_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


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


def _wait_healthy(name: str, port: int, child: subprocess.Popen[str], timeout_s: float) -> None:
    # The services log successful /healthz answers at DEBUG: this polling stays out of the log.
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
    """Prepare and start everything; stop everything on Ctrl-C or SIGTERM (exit status 0)."""
    os.chdir(ROOT)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    console = Console.from_env(env, [p.name for p in PROCESSES])
    console.child_env(env)
    gateway_port = int(env.get("GATEWAY_PORT", 8000))
    for name, key in (("CATALOG", "catalog"), ("RECORDS", "records"), ("INDICATORS", "indicators")):
        port = next(p.port for p in PROCESSES if p.port_env == f"{name}_PORT")
        env.setdefault(f"GATEWAY_{key.upper()}_URL", f"http://127.0.0.1:{port}")
    # A frontend's dev server (Vite's default port) may call the local API from the browser.
    env.setdefault("GATEWAY_CORS_ALLOWED_ORIGINS", ",".join(DEV_FRONTEND_ORIGINS))
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
    # learning-records keeps a copy of the catalog (course tags, codes), signed in at the gateway
    # as its own client (also created by `gateway prepare`, with catalog:read).
    env.setdefault("RECORDS_CATALOG_URL", env["GATEWAY_CATALOG_URL"])
    env.setdefault("RECORDS_CATALOG_TOKEN_URL", f"http://127.0.0.1:{gateway_port}/auth/token")
    env.setdefault(
        "RECORDS_CATALOG_CLIENT_ID", env.get("GATEWAY_RECORDS_CLIENT_ID", "records-service")
    )
    env.setdefault(
        "RECORDS_CATALOG_CLIENT_SECRET",
        env.get("GATEWAY_RECORDS_CLIENT_SECRET", "pilnveide-dev-records-secret"),
    )
    # Services refuse tokens of clients the gateway revoked (its view, cached a few seconds).
    for prefix in ("CATALOG", "RECORDS", "INDICATORS"):
        env.setdefault(
            f"{prefix}_AUTH_REVOCATIONS_URL", f"http://127.0.0.1:{gateway_port}/auth/revocations"
        )

    children: list[tuple[Process, subprocess.Popen[str]]] = []

    def stop(*_: object) -> None:
        for _process, child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for _process, child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        console.drain()

    def on_sigterm(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    give_back_terminal = own_the_terminal()
    run_dir = VAR_DIR / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        # The gateway prepares first: its keys and clients exist before anything asks for them.
        for process in [PROCESSES[-1], *PROCESSES[:-1]]:
            for step in process.prepare:
                if step[0] in ("load", "prepare") and not _supports(process.module, step[0]):
                    continue
                console.say(f"{process.name}: {' '.join(step)}")
                console.run_step(process.name, [sys.executable, "-m", process.module, *step], env)
        for process in PROCESSES:
            console.say(f"{process.name}: serve on port {process.port}")
            child = subprocess.Popen(
                [sys.executable, "-m", process.module, "serve"],
                env=env,
                **console.popen_options(),
            )
            children.append((process, child))
            console.pump(process.name, child)
            (run_dir / f"{process.name}.pid").write_text(str(child.pid))
            _wait_healthy(process.name, process.port, child, timeout_s=120)
        banner(
            console,
            gateway_port=gateway_port,
            services=[(p.name, p.port) for p in PROCESSES[:-1]],
            admin_id=env.get("GATEWAY_ADMIN_CLIENT_ID") or DEV_ADMIN_CLIENT_ID,
            admin_secret=None if env.get("GATEWAY_ADMIN_CLIENT_SECRET") else DEV_ADMIN_SECRET,
        )
        # A process that dies is reported; the others keep serving (the gateway answers 503
        # for the dead one), as they would in a real deployment. Ctrl-C stops everything.
        reported: set[str] = set()
        while any(child.poll() is None for _p, child in children):
            for process, child in children:
                if child.poll() is not None and process.name not in reported:
                    reported.add(process.name)
                    console.say(f"{process.name} exited with code {child.returncode}", error=True)
            time.sleep(0.5)
        console.say("every process has exited", error=True)
        return 1
    except KeyboardInterrupt:
        console.plain()
        console.say("stopping…")
        return 0
    finally:
        try:
            stop()
        except KeyboardInterrupt:  # a second Ctrl-C while stopping: stop harder
            for _process, child in children:
                child.kill()
        give_back_terminal()


if __name__ == "__main__":
    sys.exit(main())
