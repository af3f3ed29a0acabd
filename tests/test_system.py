"""`make run`'s runner end to end: four processes on localhost, routing, a dead service, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pilnveide_kit.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("catalog", "learning-records", "indicators", "gateway")


class System:
    """A running deploy/run_local.py with its own ports and var/ folder."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.ports = {name: free_port() for name in NAMES}
        self.env = {
            **os.environ,
            "PILNVEIDE_VAR_DIR": str(var_dir),
            "CATALOG_PORT": str(self.ports["catalog"]),
            "RECORDS_PORT": str(self.ports["learning-records"]),
            "INDICATORS_PORT": str(self.ports["indicators"]),
            "GATEWAY_PORT": str(self.ports["gateway"]),
        }
        for key in list(self.env):
            if key.endswith("_DATABASE_URL"):
                del self.env[key]
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy/run_local.py")],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 240
        for line in self.process.stdout:
            self.output.append(line)
            if "Pilnveide is running" in line:
                break
            if time.monotonic() > deadline:
                break
        if not any("Pilnveide is running" in line for line in self.output):
            self.stop()
            pytest.fail("the system did not start:\n" + "".join(self.output[-40:]))

    def pid(self, name: str) -> int:
        return int((self.var_dir / "run" / f"{name}.pid").read_text())

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("var"))
    running.start()
    yield running
    running.stop()


def test_every_service_answers_through_the_gateway(system: System) -> None:
    for prefix in ("catalog", "records", "indicators"):
        response = httpx.get(f"{system.gateway}/{prefix}/healthz", timeout=5)
        assert response.status_code == 200, prefix
    assert httpx.get(f"{system.gateway}/readyz", timeout=5).status_code == 200
    upstreams = httpx.get(f"{system.gateway}/readyz/upstreams", timeout=5).json()
    assert upstreams == {
        "status": "ready",
        "checks": {"catalog": "ok", "records": "ok", "indicators": "ok"},
    }


def _admin_token(system: System) -> dict[str, str]:
    answer = httpx.post(
        f"{system.gateway}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("pilnveide-admin", "pilnveide-dev-admin-secret"),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_plan_is_loaded_and_data_flows_through_every_service(system: System) -> None:
    headers = _admin_token(system)
    gateway = httpx.Client(base_url=system.gateway, headers=headers, timeout=60)
    assert gateway.get("/catalog/v1/plans").status_code == 200
    priorities = gateway.get("/catalog/v1/priorities", params={"plan": "LAP-2021-2027"}).json()
    assert len(priorities["data"]) == 5
    measures = gateway.get(
        "/catalog/v1/measures", params={"plan": "LAP-2021-2027", "limit": 100}
    ).json()
    assert len(measures["data"]) == 23

    # A learner completes the integrity e-learning; the indicators service (signed in at the
    # gateway with its own client) sees it through learning-records' aggregations.
    employment = {
        "source_system": "hr-test",
        "external_id": "emp-1",
        "personal_code": "320000-00001",
        "institution": "VK",
        "sector": "state",
        "civil_servant": True,
        "valid_from": "2020-01-01",
    }
    enrolment = {
        "source_system": "lms-test",
        "external_id": "enr-1",
        "personal_code": "320000-00001",
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-03-01",
    }
    for kind, item in (("employment", employment), ("enrolments", enrolment)):
        answer = gateway.post(f"/records/v1/{kind}/bulk", json=[item])
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"][0]["status"] == "accepted", answer.text
    progress = gateway.get("/indicators/v1/plan/progress")
    assert progress.status_code == 200, progress.text
    audit = gateway.get("/admin/audit")
    assert audit.status_code == 200
    assert any("/records/v1/enrolments/bulk" in json.dumps(row) for row in audit.json()["data"])


def test_data_lives_in_sqlite_files_under_var(system: System) -> None:
    for name in ("catalog", "learning-records", "indicators", "gateway"):
        assert (system.var_dir / f"{name}.db").exists(), name


def test_a_stopped_service_gives_503_while_the_others_answer(system: System) -> None:
    records = system.pid("learning-records")
    os.kill(records, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(records) and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    response = httpx.get(f"{system.gateway}/records/healthz", timeout=5)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert elapsed < 5  # generous bound on a noisy machine; the gateway's connect timeout is 0.5 s
    assert httpx.get(f"{system.gateway}/catalog/healthz", timeout=5).status_code == 200


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(system: System) -> None:
    pids = [system.pid(name) for name in NAMES]
    sizes = {p.name: p.stat().st_size for p in system.var_dir.glob("*.db")}
    assert system.stop() == 0
    assert not any(_alive(pid) for pid in pids)
    again = System(system.var_dir)
    again.ports = system.ports
    again.env = system.env
    again.start()
    try:
        assert httpx.get(f"{again.gateway}/catalog/readyz", timeout=5).status_code == 200
        for name, size in sizes.items():
            assert (system.var_dir / name).stat().st_size >= size
        headers = _admin_token(again)
        enrolments = httpx.get(
            f"{again.gateway}/records/v1/enrolments", headers=headers, timeout=30
        ).json()
        assert [e["course_code"] for e in enrolments["data"]] == ["INTEG-E"]
        priorities = httpx.get(
            f"{again.gateway}/catalog/v1/priorities",
            params={"plan": "LAP-2021-2027"},
            headers=headers,
            timeout=30,
        ).json()
        assert len(priorities["data"]) == 5
    finally:
        assert again.stop() == 0
