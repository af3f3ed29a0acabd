"""Institution A's and B's xAPI worlds side by side: B reads, lists, changes, voids and deletes
nothing of A's; B's statements about A's learner change nothing; personal codes are never at
rest, in an answer or in a log line; erasure covers the LRS."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from learning_records.enrolments.models import Enrolment
from learning_records.models import metadata
from learning_records.people.pseudonyms import pseudonymise, synthetic_personal_code
from learning_records.xapi.settings import XapiSettings
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory

from .conftest import Lrs, employ, restricted_lrs

PERSONAL = "https://pilnveide.lv/personal-code"
PSEUDONYM = "https://pilnveide.lv/pseudonym"
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://pilnveide.lv/courses/DIGI-BASE"
CODE_A, CODE_B = synthetic_personal_code(101), synthetic_personal_code(202)
STATE_ID, PROFILE_ID = "progress", "settings"


def _account(code: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": PERSONAL, "name": code}}


def _statement(code: str, verb: str = "completed", **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": _account(code),
        "verb": {"id": ADL + verb},
        "object": {"id": COURSE, "objectType": "Activity"},
        "timestamp": "2025-03-04T10:00:00Z",
        **extra,
    }


def _voiding(target: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:lms@example.lv"},
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": target},
    }


@dataclass
class World:
    """One institution's LRS data, as its client wrote it."""

    lrs: Lrs
    code: str
    statements: list[str]
    voided: str
    doc_params: dict[str, dict[str, str]]


def _doc_params(code: str, registration: str) -> dict[str, dict[str, str]]:
    agent = json.dumps(_account(code))
    return {
        "/activities/state": {
            "activityId": COURSE,
            "agent": agent,
            "registration": registration,
            "stateId": STATE_ID,
        },
        "/activities/profile": {"activityId": COURSE, "profileId": PROFILE_ID},
        "/agents/profile": {"agent": agent, "profileId": PROFILE_ID},
    }


def _build(lrs: Lrs, code: str, name: str) -> World:
    """Statements (a mapped completion, a plain one, a voided one) and one of each document."""
    registration = str(uuid.uuid4())
    completed = _statement(code, context={"registration": registration})
    plain = _statement(code, "experienced")
    doomed = _statement(code, "attempted")
    posted = lrs.post("/statements", json=[completed, plain, doomed])
    assert posted.status_code == 200, posted.text
    voiding = _voiding(doomed["id"])
    assert lrs.post("/statements", json=voiding).status_code == 200
    params = _doc_params(code, registration)
    for path, scope in params.items():
        put = lrs.put(path, params=scope, json={"owner": name}, headers={"If-None-Match": "*"})
        assert put.status_code == 204, put.text
    return World(
        lrs=lrs,
        code=code,
        statements=[completed["id"], plain["id"], voiding["id"]],
        voided=doomed["id"],
        doc_params=params,
    )


@pytest.fixture
def people(client: TestClient, tokens: TokenFactory) -> None:
    """A's learner employed at VK, B's at VID (sent by an unrestricted HR feed)."""
    employ(client, tokens, [(CODE_A, "VK"), (CODE_B, "VID")])


@pytest.fixture
def worlds(
    app: FastAPI, client: TestClient, tokens: TokenFactory, people: None
) -> tuple[World, World]:
    """A (client restricted to VK) and B (client restricted to VID), each with its data."""
    app.state.xapi_settings = XapiSettings(page_size=2)
    a = _build(restricted_lrs(client, tokens, institutions=["VK"], client_id="lms-a"), CODE_A, "A")
    b = _build(restricted_lrs(client, tokens, institutions=["VID"], client_id="lms-b"), CODE_B, "B")
    return a, b


def _ids(lrs: Lrs, **params: str) -> set[str]:
    return {s["id"] for s in lrs.statements(**params)}


def _enrolments(app: FastAPI) -> list[tuple[str | None, str]]:
    with session_scope(app.state.engine) as session:
        rows = session.execute(select(Enrolment.institution, Enrolment.status)).all()
    return sorted((r.institution, r.status) for r in rows)


def test_b_lists_and_reads_none_of_a_statements(worlds: tuple[World, World]) -> None:
    """Unfiltered (over `more` pages), by agent, by activity, by id, voided: B sees only B's."""
    a, b = worlds
    agent_a = json.dumps(_account(CODE_A))
    assert _ids(a.lrs) == set(a.statements)
    assert _ids(b.lrs) == set(b.statements)
    assert _ids(b.lrs, agent=agent_a) == set()
    # the voiding statement comes along: its target matches (the specification's rule)
    assert _ids(a.lrs, agent=agent_a) == set(a.statements)
    assert _ids(b.lrs, activity=COURSE) == set(b.statements)
    assert _ids(b.lrs, verb=ADL + "completed", related_agents="true") == {b.statements[0]}
    for statement_id in a.statements:
        got = b.lrs.get("/statements", params={"statementId": statement_id})
        assert got.status_code == 404
        assert a.lrs.get("/statements", params={"statementId": statement_id}).status_code == 200
    assert b.lrs.get("/statements", params={"voidedStatementId": a.voided}).status_code == 404
    assert a.lrs.get("/statements", params={"voidedStatementId": a.voided}).status_code == 200


def test_a_more_link_shows_b_only_b_statements(worlds: tuple[World, World]) -> None:
    """A `more` link carries the query, not the right to read: B following A's sees B's."""
    a, b = worlds
    first = a.lrs.get("/statements", params={"limit": "1"}).json()
    assert first["more"]
    followed = b.lrs.client.get(first["more"], headers=b.lrs.headers()).json()
    assert {s["id"] for s in followed["statements"]} <= set(b.statements)


def test_b_neither_reads_nor_changes_nor_deletes_a_documents(worlds: tuple[World, World]) -> None:
    """State, activity profile and agent profile: B's GET is 404, B's list is empty, B's PUT,
    POST and DELETE with A's keys touch only B's own partition; A's documents stay as they were."""
    a, b = worlds
    for path, params in a.doc_params.items():
        id_name = "stateId" if path == "/activities/state" else "profileId"
        listing = {k: v for k, v in params.items() if k != id_name}
        if path == "/activities/profile":  # the same activity in both worlds: B has its own
            assert b.lrs.get(path, params=params).json() == {"owner": "B"}
        else:
            assert b.lrs.get(path, params=params).status_code == 404
            assert b.lrs.get(path, params=listing).json() == []
        put = b.lrs.put(path, params=params, json={"owner": "B!"}, headers={"If-Match": "*"})
        assert put.status_code == (204 if path == "/activities/profile" else 412)
        assert b.lrs.post(path, params=params, json={"extra": "B"}).status_code == 204
        assert b.lrs.delete(path, params=params).status_code == 204
        if path == "/activities/state":
            assert b.lrs.delete(path, params=listing).status_code == 204
        got = a.lrs.get(path, params=params)
        assert got.status_code == 200, (path, got.text)
        assert got.json() == {"owner": "A"}
        assert a.lrs.get(path, params=listing).json() == [params[id_name]]


def test_b_statement_about_a_learner_changes_nothing(
    worlds: tuple[World, World], app: FastAPI, client: TestClient, tokens: TokenFactory
) -> None:
    """B's "failed" about A's learner is stored as rejected and A's completed enrolment stays;
    B voiding A's statement leaves it and its enrolment; B reuses A's statement id: 409."""
    a, b = worlds
    before = _enrolments(app)
    assert before == [("VID", "completed"), ("VK", "completed")]
    failed = _statement(CODE_A, "failed")
    assert b.lrs.post("/statements", json=failed).status_code == 200
    voiding = _voiding(a.statements[0])
    assert b.lrs.post("/statements", json=voiding).status_code == 200
    assert _enrolments(app) == before
    assert a.lrs.get("/statements", params={"statementId": a.statements[0]}).status_code == 200
    outcomes = client.get(
        "/v1/xapi/statements/outcomes",
        params={"status": "rejected"},
        headers=tokens.headers("xapi:read", institutions=["VID"]),
    ).json()["data"]
    assert [(o["statement_id"], o["mapping_detail"]) for o in outcomes] == [
        (failed["id"], "person not employed at your institutions")
    ]
    ours = client.get(
        "/v1/xapi/statements/outcomes",
        params={"status": "mapped"},
        headers=tokens.headers("xapi:read", institutions=["VID"]),
    ).json()["data"]
    assert {o["statement_id"] for o in ours} == {b.statements[0]}
    # An id A used: 409 for B whatever the content (the spec's uniqueness, no content oracle).
    taken = a.lrs.get("/statements", params={"statementId": a.statements[1]}).json()
    same = {k: v for k, v in taken.items() if k not in ("stored", "authority", "version")}
    assert b.lrs.put("/statements", params={"statementId": taken["id"]}, json=same).status_code == (
        409
    )
    other = {**same, "verb": {"id": ADL + "failed"}}
    assert b.lrs.put(
        "/statements", params={"statementId": taken["id"]}, json=other
    ).status_code == (409)


def test_unrestricted_and_multi_institution_clients(
    worlds: tuple[World, World], client: TestClient, tokens: TokenFactory
) -> None:
    """Unrestricted: everything, and the old immutability rules (same content: no-op);
    a client of VK and VID: both worlds; their own statements are hidden from A and B."""
    a, b = worlds
    everyone = restricted_lrs(client, tokens, client_id="central")
    assert _ids(everyone) == set(a.statements) | set(b.statements)
    taken = everyone.get("/statements", params={"statementId": a.statements[1]}).json()
    same = {k: v for k, v in taken.items() if k not in ("stored", "authority", "version")}
    again = everyone.put("/statements", params={"statementId": taken["id"]}, json=same)
    assert again.status_code == 204
    both = restricted_lrs(client, tokens, institutions=["VK", "VID"], client_id="shared-lms")
    assert _ids(both) == set(a.statements) | set(b.statements)
    shared = _statement(CODE_A, "experienced")
    assert both.post("/statements", json=shared).status_code == 200
    assert shared["id"] not in _ids(a.lrs) | _ids(b.lrs)
    assert shared["id"] in _ids(everyone)
    central = _statement(CODE_B, "experienced")
    assert everyone.post("/statements", json=central).status_code == 200
    assert central["id"] not in _ids(both)


def test_a_statement_maps_to_its_own_institution(
    worlds: tuple[World, World], app: FastAPI, client: TestClient, tokens: TokenFactory
) -> None:
    """A's later "failed" moves A's enrolment only; a client of no institution cannot write."""
    a, _b = worlds
    assert a.lrs.post("/statements", json=_statement(CODE_A, "failed")).status_code == 200
    assert _enrolments(app) == [("VID", "completed"), ("VK", "failed")]
    nobody = restricted_lrs(client, tokens, institutions=[], client_id="nobody")
    assert nobody.post("/statements", json=_statement(CODE_A)).status_code == 403
    assert _ids(nobody) == set()


def test_restricted_admin_cannot_change_course_mappings(
    client: TestClient, tokens: TokenFactory
) -> None:
    """Course mappings hold for everybody: a restricted admin gets 403, an unrestricted one not."""
    body = {"activity_id": "https://lms.example.lv/c/1", "course_code": "DIGI-BASE"}
    restricted = tokens.headers("admin", institutions=["VID"])
    assert client.put("/v1/xapi/course-mappings", json=body, headers=restricted).status_code == 403
    params = {"activity_id": body["activity_id"]}
    admin = tokens.headers("admin")
    assert client.put("/v1/xapi/course-mappings", json=body, headers=admin).status_code == 200
    gone = client.delete("/v1/xapi/course-mappings", params=params, headers=restricted)
    assert gone.status_code == 403
    listed = client.get("/v1/xapi/course-mappings", headers=admin).json()["data"]
    assert listed == [{**body, "owner": ""}]  # a global mapping


def test_personal_codes_are_never_stored_answered_or_logged(
    app: FastAPI,
    client: TestClient,
    tokens: TokenFactory,
    people: None,
    pepper: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A personal code in the actor, a group member, the context or an extension is replaced by
    the pseudonymous account before storing; queries by the code still find the statements;
    documents keyed by the code work; a bad code is a 400 that does not repeat it."""
    caplog.set_level(logging.DEBUG)
    lrs = restricted_lrs(client, tokens, institutions=["VK"], client_id="lms-a")
    pseudonym = pseudonymise(CODE_A, pepper)
    statement = _statement(
        CODE_A,
        context={
            "instructor": _account(CODE_B),
            "extensions": {"https://example.lv/x": {"account": _account(CODE_B)["account"]}},
        },
    )
    group = _statement(CODE_A, "experienced")
    group["actor"] = {"objectType": "Group", "member": [_account(CODE_A), _account(CODE_B)]}
    assert lrs.post("/statements", json=[statement, group]).status_code == 200
    assert lrs.put(
        "/statements", params={"statementId": statement["id"]}, json=statement
    ).status_code == (204)
    answers: list[str] = []
    stored = lrs.get("/statements", params={"statementId": statement["id"]})
    answers.append(stored.text)
    assert stored.json()["actor"]["account"] == {"homePage": PSEUDONYM, "name": pseudonym}
    by_code = lrs.get("/statements", params={"agent": json.dumps(_account(CODE_A))})
    answers.append(by_code.text)
    assert {s["id"] for s in by_code.json()["statements"]} == {statement["id"], group["id"]}
    paged = lrs.get("/statements", params={"agent": json.dumps(_account(CODE_A)), "limit": "1"})
    more = paged.json()["more"]
    assert more
    token = more.split("more=", 1)[1]
    answers.append(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    rest = lrs.client.get(more, headers=lrs.headers())
    answers.append(rest.text)
    assert len(rest.json()["statements"]) == 1
    by_pseudonym = lrs.get(
        "/statements",
        params={"agent": json.dumps({"account": {"homePage": PSEUDONYM, "name": pseudonym}})},
    )
    assert {s["id"] for s in by_pseudonym.json()["statements"]} == {statement["id"], group["id"]}
    member = lrs.get(
        "/statements",
        params={"agent": json.dumps(_account(CODE_B)), "related_agents": "true"},
    )
    answers.append(member.text)
    assert {s["id"] for s in member.json()["statements"]} == {statement["id"], group["id"]}
    person = lrs.get("/agents", params={"agent": json.dumps(_account(CODE_A))})
    answers.append(person.text)
    assert person.json()["account"] == [{"homePage": PSEUDONYM, "name": pseudonym}]
    params = _doc_params(CODE_A, str(uuid.uuid4()))
    for path, scope in params.items():
        assert lrs.put(
            path, params=scope, json={"n": 1}, headers={"If-None-Match": "*"}
        ).status_code == (204)
        answers.append(lrs.get(path, params=scope).text)
    bad = _statement("010101-99999")
    refused = lrs.post("/statements", json=bad)
    answers.append(refused.text)
    assert refused.status_code == 400
    answers.append(lrs.get("/statements", params={"agent": json.dumps(_account("x1"))}).text)
    with session_scope(app.state.engine) as session:
        assert _enrolments(app) == [("VK", "completed")]
        rows = []
        for table in metadata.sorted_tables:  # every table, binary columns included
            rows += [f"{table.name}: {tuple(row)}" for row in session.execute(select(table))]
    needles = {
        variant
        for code in (CODE_A, CODE_B, "010101-99999")
        for variant in (code, code.replace("-", ""))
    }
    assert any(r.startswith("xapi_statement:") for r in rows)
    assert not [r for r in rows if any(n in r for n in needles)]
    assert not [a for a in answers if any(n in a for n in needles)]
    assert caplog.records, "the requests were logged"
    service_records = [r for r in caplog.records if r.name != "httpx"]  # the test's own client
    assert {r.name for r in service_records}, "the service logged the requests"
    leaked = [
        f"{r.name}: {r.getMessage()} {vars(r)}"
        for r in service_records
        if any(n in r.getMessage() + str(vars(r)) for n in needles)
    ]
    assert leaked == []


def test_erasure_counts_then_removes_the_person_xapi_rows(
    worlds: tuple[World, World], client: TestClient, tokens: TokenFactory
) -> None:
    """Dry run: the person's statements (by pseudonym and by HR id), index rows and documents
    counted, nothing deleted; then deleted; B's learner's statements and documents untouched."""
    a, b = worlds
    hr = "https://hr.vk.lv"
    person = client.post(
        "/v1/people",
        json={"source_system": hr, "external_id": "vk-7", "personal_code": CODE_A},
        headers=tokens.headers("records:write"),
    )
    assert person.status_code in (200, 201), person.text
    by_hr_id = _statement(CODE_A, "experienced")
    by_hr_id["actor"] = {"account": {"homePage": hr, "name": "vk-7"}}
    assert a.lrs.post("/statements", json=by_hr_id).status_code == 200
    eraser = tokens.headers("records:erase")
    dry = client.post("/v1/privacy/erasure", json={"personal_code": CODE_A}, headers=eraser)
    assert dry.status_code == 200, dry.text
    rows = dry.json()["rows"]
    # completed, experienced, attempted (voided), the HR-id one: the voiding statement names
    # only the LMS
    assert rows["xapi_statement"] == 4
    assert rows["xapi_statement_agent"] == 8  # each: the actor and the authority
    assert rows["xapi_statement_activity"] == 4
    assert rows["xapi_document"] == 2  # the state and the agent profile
    assert _ids(a.lrs) == {*a.statements, by_hr_id["id"]}
    real = client.post(
        "/v1/privacy/erasure", json={"personal_code": CODE_A, "dry_run": False}, headers=eraser
    )
    assert real.status_code == 200, real.text
    assert real.json()["rows"] == rows
    assert _ids(a.lrs) == {a.statements[2]}
    state = a.doc_params["/activities/state"]
    assert a.lrs.get("/activities/state", params=state).status_code == 404
    assert _ids(b.lrs) == set(b.statements)
    assert b.lrs.get("/activities/state", params=b.doc_params["/activities/state"]).json() == {
        "owner": "B"
    }
