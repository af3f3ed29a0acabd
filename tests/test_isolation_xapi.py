"""The xAPI LRS through the gateway: two LMS clients restricted to two institutions.

Institution A's LMS (restricted to VK) and B's (restricted to VID) get real tokens from the
gateway's /auth/token with HTTP Basic, as LMSs do, and use /xapi/** and /records/v1/xapi/**
through it. B reads, lists, changes, voids and deletes nothing of A's; B's statement about A's
learner changes no record of A's; an unrestricted client still sees both worlds.
"""

from __future__ import annotations

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
        yield Stack(gateway, records, secrets)


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
