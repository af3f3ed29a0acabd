"""`make run`'s runner end to end: four processes on localhost, routing, a dead service, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest

from learning_records.people.pseudonyms import synthetic_personal_code
from pilnveide_kit.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("catalog", "learning-records", "indicators", "gateway")
T = TypeVar("T")


class System:
    """A running deploy/run_local.py with its own ports and var/ folder."""

    def __init__(self, var_dir: Path, log_format: str = "json") -> None:
        self.var_dir = var_dir
        self.ports = {name: free_port() for name in NAMES}
        self.env = {
            **os.environ,
            "PILNVEIDE_VAR_DIR": str(var_dir),
            "CATALOG_PORT": str(self.ports["catalog"]),
            "RECORDS_PORT": str(self.ports["learning-records"]),
            "INDICATORS_PORT": str(self.ports["indicators"]),
            "GATEWAY_PORT": str(self.ports["gateway"]),
            # text: what a person at a terminal sees (`make run` chooses it on a TTY).
            "PILNVEIDE_LOG_FORMAT": log_format,
            # The catalog checks the gateway's revocation view on every token (no cache), so a
            # test sees a revocation at once; make run's own default is a few seconds.
            "CATALOG_AUTH_REVOCATIONS_TTL_S": "0",
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
            if "Press Ctrl-C to stop" in line:  # the banner's last line
                break
            if time.monotonic() > deadline:
                break
        if not any("Pilnveide is running" in line for line in self.output):
            self.stop()
            pytest.fail("the system did not start:\n" + "".join(self.output[-40:]))
        # Keep reading, so that a full pipe never blocks the runner or its processes.
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()

    def _drain(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.output.append(line)

    @property
    def banner(self) -> list[str]:
        """The lines from "Pilnveide is running" to "Press Ctrl-C to stop"."""
        start = next(i for i, line in enumerate(self.output) if "Pilnveide is running" in line)
        end = next(i for i, line in enumerate(self.output) if "Press Ctrl-C to stop" in line)
        return [line.rstrip("\n") for line in self.output[start : end + 1]]

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
    running = System(tmp_path_factory.mktemp("var"), log_format="text")
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


def test_banner_names_the_admin_client_and_commands_that_work(system: System) -> None:
    banner = system.banner
    gateway_port = system.ports["gateway"]
    text = "\n".join(banner)
    assert f"http://127.0.0.1:{gateway_port}/docs" in text
    for name in ("catalog", "learning-records", "indicators"):
        assert f"http://127.0.0.1:{system.ports[name]}" in text
    assert "client id      pilnveide-admin" in text
    assert "client secret  pilnveide-dev-admin-secret" in text
    try_at = banner.index("Try:")
    commands = [line.strip() for line in banner[try_at + 1 : try_at + 4]]
    assert commands[0] == f"curl -s localhost:{gateway_port}/catalog/healthz"
    assert "/auth/token" in commands[1] and commands[1].startswith("TOKEN=$(")
    assert "Authorization: Bearer $TOKEN" in commands[2]
    # The three commands, pasted into a shell, work as printed.
    done = subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(commands)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"status":"ok"' in done.stdout.replace(" ", "")
    assert '"code":"1.1"' in done.stdout.replace(" ", "")


def test_text_output_is_one_readable_line_per_event_without_probes(system: System) -> None:
    httpx.get(f"{system.gateway}/catalog/v1/plans", timeout=10)  # one request to see logged
    output = list(system.output)
    assert not [line for line in output if line.lstrip().startswith("{")]  # no JSON lines

    def by(name: str) -> list[str]:
        return [line for line in output if re.match(rf"^ *{name} │ ", line)]

    assert "catalog: migrate" in "".join(by("run"))
    for name in NAMES:
        assert by(name), f"no line from {name}"
    # The runner's readiness polling (GET /healthz until 200) is not logged.
    assert not [line for line in output if "GET /healthz 200" in line]


def test_problem_instance_is_the_path_the_caller_used(system: System) -> None:
    headers = _admin_token(system)
    answer = httpx.get(f"{system.gateway}/catalog/v1/nowhere", headers=headers, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["instance"] == "/catalog/v1/nowhere"


def test_data_lives_in_sqlite_files_under_var(system: System) -> None:
    for name in ("catalog", "learning-records", "indicators", "gateway"):
        assert (system.var_dir / f"{name}.db").exists(), name


def _until(read: Callable[[], T], done: Callable[[T], bool], attempts: int = 240) -> T:
    """Read until done(value) or the attempts run out (0.25 s apart); the last value read."""
    value = read()
    for _ in range(attempts):
        if done(value):
            break
        time.sleep(0.25)
        value = read()
    return value


def _item(kind: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "source_system": "system-test",
        "external_id": f"{kind}-{number}",
        "personal_code": synthetic_personal_code(number) if "person" not in fields else None,
        **fields,
    }


def _employment(number: int, institution: str, roles: list[str]) -> dict[str, Any]:
    return {
        **_item("emp", number),
        "personal_code": synthetic_personal_code(number),
        "institution": institution,
        "sector": "state",
        "civil_servant": True,
        "valid_from": "2020-01-01",
        "roles": [{"role": role} for role in roles],
    }


def _completed(number: int, person: int, course: str, institution: str, on: str) -> dict[str, Any]:
    return {
        **_item("enr", number),
        "personal_code": synthetic_personal_code(person),
        "course_code": course,
        "institution": institution,
        "status": "completed",
        "completed_on": on,
    }


def test_records_loaded_through_the_api_give_every_kind_of_indicator_with_no_other_step(
    system: System,
) -> None:
    """From make run's state: records through the gateway's public API, indicators read back.

    Nothing else is done: learning-records copies the catalog's course tags by itself.
    """
    gateway = httpx.Client(base_url=system.gateway, headers=_admin_token(system), timeout=60)
    copy = _until(
        lambda: gateway.get("/records/v1/catalog-copy").json(),
        lambda body: body["counts"]["course"] >= 14 and body["counts"]["reference_list"] >= 5,
    )
    assert copy["counts"]["course"] >= 14, copy

    def value(code: str) -> float | None:
        answer = gateway.get(f"/indicators/v1/indicators/{code}", params={"as_of": "2025-12-31"})
        assert answer.status_code == 200, answer.text
        return answer.json()["value"]  # type: ignore[no-any-return]

    def settled(code: str) -> float | None:
        """The value once the stored result reflects every record written so far (reads serve
        stored results; the refresher catches up with the records feed in the background)."""
        written = gateway.get("/records/v1/changes/head").json()["last_seq"]

        def read() -> httpx.Response:
            answer = gateway.get(
                f"/indicators/v1/indicators/{code}", params={"as_of": "2025-12-31"}
            )
            assert answer.status_code == 200, answer.text
            return answer

        answer = _until(read, lambda a: int(a.headers.get("X-Records-Head", "-1")) >= written)
        assert int(answer.headers.get("X-Records-Head", "-1")) >= written, answer.headers
        return answer.json()["value"]  # type: ignore[no-any-return]

    # Earlier tests of this module may have written civil servants in integrity training: the
    # count of 1.1.1 is judged against what it read before this test's writes.
    civil_servants_before = settled("1.1.1") or 0.0
    writes = {
        "employment": [
            _employment(101, "VK", ["trust_person"]),
            _employment(102, "FM", ["trust_person"]),
            _employment(103, "TM", ["whistleblowing_officer"]),
            _employment(104, "TM", ["whistleblowing_officer"]),
            _employment(105, "IUB", ["resort_procurement_expert"]),
            _employment(106, "CFLA", ["resort_procurement_expert"]),
        ],
        "headcounts": [
            {
                **_item("hc", 1),
                "personal_code": None,
                "institution": "TM",
                "sector": "state",
                "role": "whistleblowing_officer",
                "as_of": "2025-01-01",
                "headcount": 8,
            }
        ],
        "enrolments": [
            _completed(1, 101, "INTEG-E", "VK", "2025-03-01"),
            _completed(2, 102, "INTEG-TRUST", "FM", "2025-04-01"),
            _completed(3, 103, "WHISTLE-E", "TM", "2025-02-01"),
            _completed(4, 103, "WHISTLE-E", "TM", "2025-09-01"),
            *[_completed(5 + n, 104, "WHISTLE-E", "TM", f"2025-0{n + 2}-15") for n in range(3)],
            _completed(8, 105, "PROC-EXPERT", "IUB", "2025-05-01"),
            _completed(9, 106, "PROC-EXPERT", "CFLA", "2025-05-02"),
        ],
        "results": [
            {
                **_item("test", 1),
                "personal_code": synthetic_personal_code(101),
                "course_code": "INTEG-E",
                "institution": "VK",
                "attempted_on": "2025-03-01",
                "passed": True,
            }
        ],
    }
    for kind, items in writes.items():
        for item in items:
            if item.get("personal_code") is None:
                item.pop("personal_code")
        answer = gateway.post(f"/records/v1/{kind}/bulk", json=items)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["accepted"] == len(items), answer.text

    expected = {
        # distinct_people: 101, the civil servant at VK who took part in INTEG-E (mandatory,
        # with a knowledge test); INTEG-TRUST is neither, so 102 does not count.
        "1.1.1": civil_servants_before + 1.0,
        # coverage_per_institution: FM, whose trust person completed the trust-person course
        # (101 at VK did the general INTEG-E only).
        "1.1.4": 1.0,
        # people_with_frequency, "1-2 mācības gadā": at least one a year, so 103 (2 in 2025) and
        # 104 (3 in 2025, who was certainly given 1-2) both count.
        "1.2.1": 2.0,
        "1.2.2": 25.0,  # share: 2 whistle-blowing officers trained of 8 in the headcount
        "1.5.2": 1.0,  # coverage_per_resort: FM's resort, through IUB and CFLA
        "2.4.2": 0.0,  # distinct_institutions: no course of measure 2.4 yet
    }
    assert {code: settled(code) for code in expected} == expected

    # The catalog gains a course tagged to measure 2.4, then people enrol in it: the indicator
    # follows within seconds, with nothing pushed by hand.
    course = {
        "code": "INNOV-LAB",
        "title": {"lv": "Inovāciju laboratorija", "en": "Innovation lab"},
        "format": "workshop",
        "measures": ["2.4"],
    }
    created = gateway.post("/catalog/v1/courses", json=course)
    assert created.status_code == 201, created.text
    enrolments = [
        _completed(20, 101, "INNOV-LAB", "VK", "2025-06-01"),
        _completed(21, 103, "INNOV-LAB", "TM", "2025-06-01"),
    ]
    answer = gateway.post("/records/v1/enrolments/bulk", json=enrolments)
    assert answer.json()["counts"]["accepted"] == 2, answer.text
    assert _until(lambda: value("2.4.2"), lambda v: v == 2.0) == 2.0


_WALKTHROUGH = re.compile(r"<!-- walkthrough: (\w+) -->(.*?)<!-- /walkthrough -->", re.S)
_SHELL_BLOCK = re.compile(r"```(?:sh|bash)\n(.*?)```", re.S)


def _walkthrough(doc: str, name: str) -> str:
    """The shell blocks of a marked walk-through in docs/, in order, as one script."""
    found = dict(_WALKTHROUGH.findall((ROOT / "docs" / doc).read_text(encoding="utf-8")))
    return "\n".join(_SHELL_BLOCK.findall(found[name]))


def _run_walkthrough(system: System, script: str, workdir: Path) -> str:
    """Run a walk-through against the system: every curl must get a 2xx answer."""
    assert script.startswith("GW=http://127.0.0.1:8000\n")
    prelude = (
        "set -euo pipefail\nshopt -s inherit_errexit\n"
        # curl -s as written, but an HTTP error fails the walk-through (its body shown), in
        # $(…) too; each answer on a line of its own
        'curl() { command curl --fail-with-body --show-error "$@" || return $?; echo; }\n'
    )
    script = script.replace("GW=http://127.0.0.1:8000", f"GW={system.gateway}", 1)
    done = subprocess.run(
        ["bash", "-c", prelude + script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def test_the_hr_and_lms_walkthroughs_in_the_docs_work_as_written(
    system: System, tmp_path: Path
) -> None:
    """docs/records.md's HR walk-through, then docs/xapi.md's LMS one, pasted into a shell."""
    hr = _run_walkthrough(system, _walkthrough("records.md", "hr"), tmp_path)
    assert '"external_id":"E-1001"' in hr.replace(" ", "")  # the pull joins back
    assert '"registered":1' in hr.replace(" ", "")  # Anna's address
    lms = _run_walkthrough(system, _walkthrough("xapi.md", "lms"), tmp_path)
    summary = json.loads(lms.strip().splitlines()[-2])  # the outcome summary
    assert summary["client_id"] == "moodle-vk"
    assert summary["counts"]["mapped"] == 1, summary  # Anna, named by e-mail, at VK


def test_make_run_has_services_refuse_a_deactivated_clients_token(system: System) -> None:
    admin = httpx.Client(base_url=system.gateway, headers=_admin_token(system), timeout=30)
    created = admin.post(
        "/admin/clients",
        json={"client_id": "system-lms", "name": "LMS", "scopes": ["catalog:read"]},
    )
    assert created.status_code == 201, created.text
    answer = httpx.post(
        f"{system.gateway}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("system-lms", created.json()["client_secret"]),
        timeout=10,
    )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    catalog = f"http://127.0.0.1:{system.ports['catalog']}"  # directly, not through the gateway
    assert httpx.get(f"{catalog}/v1/plans", headers=headers, timeout=10).status_code == 200
    assert admin.post("/admin/clients/system-lms/deactivate").status_code == 200
    refused = httpx.get(f"{catalog}/v1/plans", headers=headers, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("client-deactivated")


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
    again = System(system.var_dir)  # JSON lines this time, as in production
    again.ports = system.ports
    again.env = {**system.env, "PILNVEIDE_LOG_FORMAT": "json"}
    again.start()
    service_lines = [json.loads(line) for line in again.output if line.startswith("{")]
    assert {"catalog", "learning-records", "indicators", "gateway"} <= {
        line["service"] for line in service_lines
    }
    try:
        assert httpx.get(f"{again.gateway}/catalog/readyz", timeout=5).status_code == 200
        for name, size in sizes.items():
            assert (system.var_dir / name).stat().st_size >= size
        headers = _admin_token(again)
        enrolments = httpx.get(
            f"{again.gateway}/records/v1/enrolments",
            params={"course_code": "INTEG-E", "to": "2024-12-31"},
            headers=headers,
            timeout=30,
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
