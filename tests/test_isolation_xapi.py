"""The xAPI LRS through the gateway: two LMS clients restricted to two institutions.

Institution A's LMS (restricted to VK) and B's (restricted to VID) get real tokens from the
gateway's /auth/token with HTTP Basic, as LMSs do, and use /xapi/** and /records/v1/xapi/**
through it. B reads, lists, changes, voids and deletes nothing of A's; B's statement about A's
learner changes no record of A's; an unrestricted client still sees both worlds.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from learning_records.main import create_app as create_records
from learning_records.main import migrations as records_migrations
from learning_records.people.pseudonyms import synthetic_personal_code
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory, temporary_database

from .inprocess import gateway_before, records_settings, register_clients

PERSONAL = "https://pilnveide.lv/personal-code"
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://pilnveide.lv/courses/DIGI-BASE"
CODE_A, CODE_B = synthetic_personal_code(301), synthetic_personal_code(302)
VERSION = {"X-Experience-API-Version": "1.0.3"}


def _agent(code: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": PERSONAL, "name": code}}


def _statement(code: str, verb: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": _agent(code),
        "verb": {"id": ADL + verb},
        "object": {"id": COURSE},
        "timestamp": "2025-03-04T10:00:00Z",
    }


@dataclass
class Stack:
    """The gateway in front of learning-records, and the API clients' Basic credentials."""

    gateway: TestClient
    records: TestClient
    secrets: dict[str, str]
    #: The bootstrap admin's bearer headers.
    admin: dict[str, str]

    def basic(self, client_id: str) -> httpx.BasicAuth:
        """HTTP Basic with a client's key and secret (the gateway exchanges it for a token)."""
        return httpx.BasicAuth(client_id, self.secrets[client_id])

    def xapi(self, client_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An xAPI request through the gateway as an LMS sends it."""
        headers = {**VERSION, **kwargs.pop("headers", {})}
        return self.gateway.request(
            method, "/xapi" + path, auth=self.basic(client_id), headers=headers, **kwargs
        )

    def token(self, client_id: str, scope: str) -> dict[str, str]:
        """Bearer headers with a token from /auth/token."""
        answer = self.gateway.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=self.basic(client_id),
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def stack(backend: str, tokens: TokenFactory, tmp_path: Path) -> Iterator[Stack]:
    """learning-records on this backend, the gateway on SQLite, and three API clients."""
    with ExitStack() as exits, temporary_database(backend, tmp_path, "iso_xapi") as url:
        records_migrations.upgrade(url)
        settings = records_settings(url, tokens, migrate_on_start=False)
        records = exits.enter_context(
            TestClient(create_records(settings), raise_server_exceptions=False)
        )
        gateway, admin = exits.enter_context(gateway_before(tokens, tmp_path, {"records": records}))
        secrets = register_clients(
            gateway,
            admin,
            [
                ("lms-a", ["xapi:read", "xapi:write"], ["VK"]),
                ("lms-b", ["xapi:read", "xapi:write"], ["VID"]),
                ("central", ["xapi:read", "xapi:write", "records:write", "records:read"], None),
            ],
        )
        yield Stack(gateway, records, secrets, dict(admin))


def _ids(stack: Stack, client_id: str, **params: str) -> set[str]:
    found: set[str] = set()
    answer = stack.xapi(client_id, "GET", "/statements", params=params)
    while True:
        assert answer.status_code == 200, answer.text
        found |= {s["id"] for s in answer.json()["statements"]}
        more = answer.json()["more"]
        if not more:
            return found
        answer = stack.gateway.get(more, auth=stack.basic(client_id), headers=VERSION)


def _enrolment_statuses(stack: Stack) -> list[tuple[str, str]]:
    central = stack.token("central", "records:read")
    answer = stack.gateway.get("/records/v1/enrolments", headers=central)
    assert answer.status_code == 200, answer.text
    return sorted((e["institution"], e["status"]) for e in answer.json()["data"])


def test_b_cannot_read_change_or_void_a_xapi_data_through_the_gateway(stack: Stack) -> None:
    """Statements, documents, voiding and the outcomes list, each institution's LMS in turn."""
    central = stack.token("central", "records:write")
    employment = stack.gateway.post(
        "/records/v1/employment/bulk",
        headers=central,
        json=[
            {
                "source_system": "hr",
                "external_id": f"e-{inst}",
                "personal_code": code,
                "institution": inst,
                "sector": "state",
                "valid_from": "2020-01-01",
            }
            for code, inst in ((CODE_A, "VK"), (CODE_B, "VID"))
        ],
    )
    assert employment.status_code == 200, employment.text
    a_done, b_done = _statement(CODE_A, "completed"), _statement(CODE_B, "completed")
    assert stack.xapi("lms-a", "POST", "/statements", json=a_done).status_code == 200
    assert stack.xapi("lms-b", "POST", "/statements", json=b_done).status_code == 200
    state = {"activityId": COURSE, "agent": json.dumps(_agent(CODE_A)), "stateId": "s"}
    put = stack.xapi("lms-a", "PUT", "/activities/state", params=state, json={"by": "A"})
    assert put.status_code == 204, put.text
    assert _enrolment_statuses(stack) == [("VID", "completed"), ("VK", "completed")]

    # B reads and lists nothing of A's
    assert _ids(stack, "lms-b") == {b_done["id"]}
    assert _ids(stack, "lms-b", agent=json.dumps(_agent(CODE_A))) == set()
    single = stack.xapi("lms-b", "GET", "/statements", params={"statementId": a_done["id"]})
    assert single.status_code == 404
    assert stack.xapi("lms-b", "GET", "/activities/state", params=state).status_code == 404
    # B changes, deletes and voids nothing of A's; its statement about A's learner is rejected
    stack.xapi("lms-b", "DELETE", "/activities/state", params=state)
    failed = _statement(CODE_A, "failed")
    assert stack.xapi("lms-b", "POST", "/statements", json=failed).status_code == 200
    voiding = {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:lms-b@example.lv"},
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": a_done["id"]},
    }
    assert stack.xapi("lms-b", "POST", "/statements", json=voiding).status_code == 200
    assert _enrolment_statuses(stack) == [("VID", "completed"), ("VK", "completed")]
    assert stack.xapi("lms-a", "GET", "/activities/state", params=state).json() == {"by": "A"}
    assert _ids(stack, "lms-a") == {a_done["id"]}
    b_outcomes = stack.gateway.get(
        "/records/v1/xapi/statements/outcomes",
        params={"status": "rejected"},
        headers=stack.token("lms-b", "xapi:read"),
    )
    assert [o["statement_id"] for o in b_outcomes.json()["data"]] == [failed["id"]]
    a_outcomes = stack.gateway.get(
        "/records/v1/xapi/statements/outcomes",
        params={"status": "mapped"},
        headers=stack.token("lms-a", "xapi:read"),
    )
    assert [o["statement_id"] for o in a_outcomes.json()["data"]] == [a_done["id"]]
    # an unrestricted client sees both worlds
    everything = {a_done["id"], b_done["id"], failed["id"], voiding["id"]}
    assert _ids(stack, "central") == everything
    assert CODE_A not in single.text + b_outcomes.text + a_outcomes.text


# --- An LMS as a first-class integrator (issue #14) -------------------------------------------

MOODLE = "https://moodle.vk.example.lv/course/view.php?id="
MAILBOX_A = "Anna.Berzina@VK.example.lv"


def _add_clients(stack: Stack, clients: dict[str, tuple[list[str], list[str] | None]]) -> None:
    chosen = [(client_id, scopes, places) for client_id, (scopes, places) in clients.items()]
    stack.secrets.update(register_clients(stack.gateway, stack.admin, chosen))


def _catalog_courses(stack: Stack, *codes: str) -> None:
    """Records' copy of the catalog, as a sync would leave it."""
    from datetime import UTC, datetime

    from learning_records.reference.models import CatalogEntry

    with session_scope(stack.records.app.state.engine) as session:  # type: ignore[attr-defined]
        for number, code in enumerate(codes, 1):
            session.add(
                CatalogEntry(
                    entity="course",
                    code=code,
                    version=1,
                    change_id=number,
                    data={"code": code},
                    synced_at=datetime.now(UTC),
                )
            )


def _lms_statement(actor: dict[str, Any], activity: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", **actor},
        "verb": {"id": ADL + "completed"},
        "object": {"id": activity},
        "timestamp": "2025-05-06T10:00:00Z",
        **extra,
    }


def _mappings(stack: Stack, client_id: str) -> set[tuple[str, str, str]]:
    answer = stack.gateway.get(
        "/records/v1/xapi/course-mappings", headers=stack.token(client_id, "xapi:read")
    )
    assert answer.status_code == 200, answer.text
    return {(m["owner"], m["activity_id"], m["course_code"]) for m in answer.json()["data"]}


def _summary(stack: Stack, reader: str, client_id: str) -> dict[str, Any]:
    answer = stack.gateway.get(
        "/records/v1/xapi/statements/outcomes/summary",
        params={"client_id": client_id},
        headers=stack.token(reader, "xapi:read"),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_an_lms_uploads_its_mappings_identifies_by_mbox_and_reads_its_report(
    stack: Stack,
) -> None:
    """Institution A's Moodle with its own client: statements by mbox before anything is set
    up, HR registers the addresses, the LMS uploads its mappings (stored statements re-applied),
    reads its report; another LMS of A keeps its own mappings; B's LMS and HR see and change
    nothing of A's."""
    _catalog_courses(stack, "DIGI-BASE", "INTEG-E")
    lms_scopes = ["xapi:read", "xapi:write", "xapi:mappings"]
    _add_clients(
        stack,
        {
            "moodle-a": (lms_scopes, ["VK"]),
            "elearn-a": (lms_scopes, ["VK"]),
            "moodle-b": (lms_scopes, ["VID"]),
            "hr-a": (["records:write", "records:read"], ["VK"]),
            "hr-b": (["records:write", "records:read"], ["VID"]),
        },
    )
    for hr, code, inst in (("hr-a", CODE_A, "VK"), ("hr-b", CODE_B, "VID")):
        pushed = stack.gateway.post(
            "/records/v1/employment/bulk",
            headers=stack.token(hr, "records:write"),
            json=[
                {
                    "source_system": "horizon",
                    "external_id": f"e-{inst}",
                    "personal_code": code,
                    "institution": inst,
                    "sector": "state",
                    "valid_from": "2020-01-01",
                }
            ],
        )
        assert pushed.status_code == 200, pushed.text

    # 1. The LMS sends before its mappings and before HR registered the address: kept, unmapped.
    early = _lms_statement({"mbox": f"mailto:{MAILBOX_A}"}, MOODLE + "7")
    assert stack.xapi("moodle-a", "POST", "/statements", json=early).status_code == 200
    report = _summary(stack, "moodle-a", "moodle-a")
    assert (report["total"], report["counts"]["unmapped"]) == (1, 1)

    # 2. HR of A registers the work address (only its SHA-1 is kept); B's HR cannot for A.
    mailboxes = {
        "source_system": "horizon",
        "items": [{"email": MAILBOX_A, "personal_code": CODE_A}],
    }
    b_for_a = stack.gateway.post(
        "/records/v1/institutions/VK/mailboxes",
        json=mailboxes,
        headers=stack.token("hr-b", "records:write"),
    )
    assert b_for_a.status_code == 404
    b_own = stack.gateway.post(
        "/records/v1/institutions/VID/mailboxes",
        json=mailboxes,  # A's person is not employed at VID: refused per item
        headers=stack.token("hr-b", "records:write"),
    )
    assert b_own.status_code == 200 and b_own.json()["counts"] == {"rejected": 1}
    registered = stack.gateway.post(
        "/records/v1/institutions/VK/mailboxes",
        json=mailboxes,
        headers=stack.token("hr-a", "records:write"),
    )
    assert registered.status_code == 200, registered.text
    [item] = registered.json()["items"]
    assert item["outcome"] == "registered"
    assert (
        item["mbox_sha1sum"]
        == hashlib.sha1(  # noqa: S324 - as xAPI defines mbox_sha1sum
            f"mailto:{MAILBOX_A.lower()}".encode()
        ).hexdigest()
    )
    assert MAILBOX_A.lower() not in registered.text.lower()

    # 3. Another LMS of A maps the same activity id to another course (CSV): its own mapping.
    other = stack.gateway.post(
        "/records/v1/xapi/course-mappings/bulk",
        content=f"activity_id,course_code\n{MOODLE}7,INTEG-E\n",
        headers={**stack.token("elearn-a", "xapi:mappings"), "Content-Type": "text/csv"},
    )
    assert other.status_code == 200, other.text
    assert other.json()["counts"]["created"] == 1
    assert other.json()["reapply"]["matched"] == 0  # moodle-a's statement is not elearn-a's

    # 4. The LMS uploads its mappings: a dry run first, an unknown course refused, then for real.
    upload = [
        {"activity_id": MOODLE + "7", "course_code": "DIGI-BASE"},
        {"activity_id": MOODLE + "8", "course_code": "INTEG-E"},
    ]
    mapper = stack.token("moodle-a", "xapi:mappings")
    url = "/records/v1/xapi/course-mappings/bulk"
    dry = stack.gateway.post(url, params={"dry_run": "true"}, json=upload, headers=mapper)
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "invalid": 0}
    assert (dry.json()["reapply"]["matched"], dry.json()["reapply"]["mapped"]) == (1, 0)
    unknown = [*upload, {"activity_id": MOODLE + "9", "course_code": "NO-SUCH"}]
    refused = stack.gateway.post(url, json=unknown, headers=mapper)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    # Each refused item is an InvalidParam of the ValidationProblem the OpenAPI document declares.
    assert [(e["index"], e["name"], e["location"]) for e in refused.json()["errors"]] == [
        (2, "[2].course_code", "body")
    ]
    assert "unknown course code" in refused.json()["errors"][0]["reason"]
    assert ("moodle-a", MOODLE + "7", "DIGI-BASE") not in _mappings(stack, "moodle-a")
    done = stack.gateway.post(url, json=upload, headers=mapper)
    assert done.status_code == 200, done.text
    assert done.json()["reapply"]["mapped"] == 1  # the statement sent before is applied now
    assert _enrolment_statuses(stack) == [("VK", "completed")]
    again = stack.gateway.post(url, json=upload, headers=mapper)
    assert again.json()["counts"]["unchanged"] == 2 and again.json()["reapply"]["examined"] == 0

    # 5. New statements by mbox_sha1sum map at once, to A's institution.
    digest = item["mbox_sha1sum"]
    later = _lms_statement({"mbox_sha1sum": digest}, MOODLE + "8")
    assert stack.xapi("moodle-a", "POST", "/statements", json=later).status_code == 200
    assert _enrolment_statuses(stack) == [("VK", "completed"), ("VK", "completed")]
    report = _summary(stack, "moodle-a", "moodle-a")
    assert (report["total"], report["counts"]["mapped"], report["counts"]["unmapped"]) == (2, 2, 0)
    listed = stack.gateway.get(
        "/records/v1/xapi/statements/outcomes",
        params={"status": "mapped", "client_id": "moodle-a"},
        headers=stack.token("moodle-a", "xapi:read"),
    )
    assert {o["statement_id"] for o in listed.json()["data"]} == {early["id"], later["id"]}
    no_status = stack.gateway.get(
        "/records/v1/xapi/statements/outcomes", headers=stack.token("moodle-a", "xapi:read")
    )
    assert no_status.status_code in (400, 422)

    # 6. The other LMS's mappings are untouched; each sees the global ones and its own.
    assert _mappings(stack, "elearn-a") == {("elearn-a", MOODLE + "7", "INTEG-E")}
    assert _mappings(stack, "moodle-a") == {
        ("moodle-a", MOODLE + "7", "DIGI-BASE"),
        ("moodle-a", MOODLE + "8", "INTEG-E"),
    }

    # 7. B's LMS: A's address means nothing to it, it cannot claim A's institution, its
    #    mappings and removals are its own, its report and re-apply hold nothing of A's.
    b_mapper = stack.token("moodle-b", "xapi:mappings")
    b_upload = stack.gateway.post(
        url, json=[{"activity_id": MOODLE + "7", "course_code": "INTEG-E"}], headers=b_mapper
    )
    assert b_upload.status_code == 200 and b_upload.json()["reapply"]["examined"] == 0
    gone = stack.gateway.delete(
        "/records/v1/xapi/course-mappings",
        params={"activity_id": MOODLE + "8"},
        headers=b_mapper,
    )
    assert gone.status_code == 404
    by_mbox = _lms_statement({"mbox": f"mailto:{MAILBOX_A}"}, MOODLE + "7")
    claiming = _lms_statement(
        {"mbox": f"mailto:{MAILBOX_A}"},
        MOODLE + "7",
        context={"extensions": {"https://pilnveide.lv/xapi/extensions/institution": "VK"}},
    )
    for statement in (by_mbox, claiming):
        assert stack.xapi("moodle-b", "POST", "/statements", json=statement).status_code == 200
    b_report = _summary(stack, "moodle-b", "moodle-b")
    assert b_report["counts"]["mapped"] == 0 and b_report["total"] == 2
    assert _summary(stack, "moodle-b", "moodle-a")["total"] == 0
    b_reapply = stack.gateway.post(
        "/records/v1/xapi/course-mappings/reapply", json={"dry_run": False}, headers=b_mapper
    )
    assert b_reapply.status_code == 200 and b_reapply.json()["mapped"] == 0
    assert _enrolment_statuses(stack) == [("VK", "completed"), ("VK", "completed")]
    assert ("moodle-a", MOODLE + "8", "INTEG-E") in _mappings(stack, "moodle-a")
    assert _mappings(stack, "elearn-a") == {("elearn-a", MOODLE + "7", "INTEG-E")}
