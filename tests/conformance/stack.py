"""The whole system as `make run` starts it, on free ports with a temporary var/ folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]

#: The development admin client `gateway prepare` creates (never in production).
DEV_ADMIN = ("pilnveide-admin", "pilnveide-dev-admin-secret")
START_TIMEOUT_S = 600


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StackFailed(RuntimeError):
    """The system did not start or an admin call failed."""


class Stack:
    """deploy/run_local.py in a child process; its output is kept for the failure report."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.var_dir = var_dir
        self.ports = {name: free_port() for name in ("catalog", "records", "indicators", "gateway")}
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update(
            {
                "PILNVEIDE_VAR_DIR": str(var_dir),
                "CATALOG_PORT": str(self.ports["catalog"]),
                "RECORDS_PORT": str(self.ports["records"]),
                "INDICATORS_PORT": str(self.ports["indicators"]),
                "GATEWAY_PORT": str(self.ports["gateway"]),
            }
        )
        env.update(extra_env or {})
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=400)
        self._reader: threading.Thread | None = None

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(self) -> None:
        """Start everything; return once the runner says it is serving."""
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "run_local.py")],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        running = threading.Event()

        # PILNVEIDE_CONFORMANCE_LOG=file keeps everything the system printed (the failure
        # report shows only the last lines): for finding what a fuzzed request ran into.
        log_path = os.environ.get("PILNVEIDE_CONFORMANCE_LOG")

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
            try:
                for line in self.process.stdout:
                    self.output.append(line)
                    if log is not None:
                        log.write(line)
                    if "Pilnveide is running" in line:
                        running.set()
            finally:
                if log is not None:
                    log.close()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not running.wait(0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StackFailed("the system did not start:\n" + self.tail())

    def tail(self, lines: int = 60) -> str:
        """The last lines the system printed."""
        return "".join(list(self.output)[-lines:])

    def stop(self) -> None:
        """SIGTERM the runner, which stops every process as Ctrl-C does (SIGINT may be ignored
        in a background job); kill it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def admin_token(self) -> str:
        """A bearer token of the development admin client."""
        answer = httpx.post(
            f"{self.gateway}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=DEV_ADMIN,
            timeout=30,
        )
        if answer.status_code != 200:
            raise StackFailed(f"no admin token: {answer.status_code} {answer.text}")
        return str(answer.json()["access_token"])

    def create_client(self, body: dict[str, Any]) -> tuple[str, str]:
        """Register an API client through POST /admin/clients; its id and secret."""
        answer = httpx.post(
            f"{self.gateway}/admin/clients",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=30,
        )
        if answer.status_code != 201:
            raise StackFailed(f"creating a client failed: {answer.status_code} {answer.text}")
        created = answer.json()
        return str(created["client_id"]), str(created["client_secret"])

    def set_rate_limit(self, client_id: str, limit: dict[str, float]) -> None:
        """Give a client its own rate limit (GET for the ETag, then PATCH /admin/clients/{id})."""
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        url = f"{self.gateway}/admin/clients/{client_id}"
        shown = httpx.get(url, headers=headers, timeout=30)
        if shown.status_code != 200:
            raise StackFailed(f"reading client {client_id}: {shown.status_code} {shown.text}")
        answer = httpx.patch(
            url,
            json={"rate_limit": limit},
            headers={**headers, "If-Match": shown.headers["ETag"]},
            timeout=30,
        )
        if answer.status_code != 200:
            raise StackFailed(f"setting a rate limit failed: {answer.status_code} {answer.text}")

    def rotate_secret(self, client_id: str) -> str:
        """A new secret for a client (the old one stops working at once)."""
        answer = httpx.post(
            f"{self.gateway}/admin/clients/{client_id}/rotate-secret",
            json={"previous_valid_for_s": 0},
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=30,
        )
        if answer.status_code != 200:
            raise StackFailed(f"rotating a secret failed: {answer.status_code} {answer.text}")
        return str(answer.json()["client_secret"])
