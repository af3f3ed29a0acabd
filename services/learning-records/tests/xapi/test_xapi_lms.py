"""An LMS's self-service: mappings owned per client (own before global, another's never),
mailboxes HR registers (only their SHA-1 kept) naming learners by mbox, outcome reports."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from learning_records.enrolments.models import Enrolment
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.reference.models import CatalogEntry
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory

from .conftest import Lrs

ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY = "https://lms.example.lv/course/view.php?id=5"
INSTITUTION = "https://pilnveide.lv/xapi/extensions/institution"
CODE_A, CODE_B = synthetic_personal_code(501), synthetic_personal_code(502)
ADDRESS = "Maija.Liepa@Example.lv"
MAPPINGS = "/v1/xapi/course-mappings"


def _sha1(address: str) -> str:
    return hashlib.sha1(f"mailto:{address.lower()}".encode()).hexdigest()  # noqa: S324


def _statement(actor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", **actor},
        "verb": {"id": ADL + "completed"},
        "object": {"id": ACTIVITY},
        "timestamp": "2025-03-04T10:00:00Z",
        **extra,
    }


def _enrolments(app: FastAPI) -> list[tuple[str, str | None, str]]:
    with session_scope(app.state.engine) as session:
        rows = session.execute(
            select(Enrolment.course_code, Enrolment.institution, Enrolment.status)
        ).all()
    return sorted((r.course_code, r.institution, r.status) for r in rows)


def _catalog(app: FastAPI, *codes: str) -> None:
    with session_scope(app.state.engine) as session:
        for number, code in enumerate(codes, 1):
            session.add(
                CatalogEntry(
                    entity="course",
                    code=code,
                    version=1,
                    change_id=number,
                    data={},
                    synced_at=datetime.now(UTC),
                )
            )


def _employ(client: TestClient, tokens: TokenFactory, *pairs: tuple[str, str]) -> None:
    response = client.post(
        "/v1/employment/bulk",
        headers=tokens.headers("records:write"),
        json=[
            {
                "source_system": "hr",
                "external_id": f"e-{code}-{institution}",
                "personal_code": code,
                "institution": institution,
                "sector": "state",
                "valid_from": "2020-01-01",
            }
            for code, institution in pairs
        ],
    )
    assert response.status_code == 200, response.text


def _lms(tokens: TokenFactory, client_id: str, scopes: str, **kwargs: Any) -> dict[str, str]:
    return tokens.headers(scopes, client_id=client_id, **kwargs)


def test_own_mapping_before_global_and_never_another_clients(
    lrs: Lrs, app: FastAPI, tokens: TokenFactory
) -> None:
    _catalog(app, "GLOBAL-C", "OWN-C", "OTHER-C")
    admin = tokens.headers("admin")
    put = lrs.client.put(
        MAPPINGS, json={"activity_id": ACTIVITY, "course_code": "GLOBAL-C"}, headers=admin
    )
    assert put.status_code == 200 and put.json()["owner"] == ""
    other = _lms(tokens, "lms-other", "xapi:mappings")
    mine = _lms(tokens, "lms-mine", "xapi:mappings xapi:write xapi:read")
    for headers, course in ((other, "OTHER-C"), (mine, "OWN-C")):
        answer = lrs.client.put(
            MAPPINGS, json={"activity_id": ACTIVITY, "course_code": course}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    unknown = lrs.client.put(
        MAPPINGS, json={"activity_id": ACTIVITY, "course_code": "NO-SUCH"}, headers=mine
    )
    assert unknown.status_code == 422
    actor = {"account": {"homePage": "https://pilnveide.lv/personal-code", "name": CODE_A}}
    posted = lrs.post(
        "/statements", json=_statement(actor), headers={"Authorization": mine["Authorization"]}
    )
    assert posted.status_code == 200, posted.text
    central = lrs.post("/statements", json=_statement(actor))  # the dev client: global mapping
    assert central.status_code == 200
    assert [c for c, _, _ in _enrolments(app)] == ["GLOBAL-C", "OWN-C"]
    listed = lrs.client.get(MAPPINGS, headers=_lms(tokens, "lms-mine", "xapi:read")).json()
    assert {(m["owner"], m["course_code"]) for m in listed["data"]} == {
        ("", "GLOBAL-C"),
        ("lms-mine", "OWN-C"),
    }
    # Removing is of one's own only; the global and the other's stay.
    assert (
        lrs.client.delete(MAPPINGS, params={"activity_id": ACTIVITY}, headers=mine).status_code
        == 204
    )
    assert (
        lrs.client.delete(MAPPINGS, params={"activity_id": ACTIVITY}, headers=mine).status_code
        == 404
    )
    everything = lrs.client.get(MAPPINGS, headers=admin).json()["data"]
    assert {(m["owner"], m["course_code"]) for m in everything} == {
        ("", "GLOBAL-C"),
        ("lms-other", "OTHER-C"),
    }


def test_hr_registers_mailboxes_and_only_their_sha1_is_kept(
    lrs: Lrs, app: FastAPI, tokens: TokenFactory
) -> None:
    _employ(lrs.client, tokens, (CODE_A, "VK"), (CODE_B, "VID"))
    hr_vk = tokens.headers("records:write", institutions=["VK"])
    body = {
        "source_system": "horizon",
        "items": [
            {"email": ADDRESS, "personal_code": CODE_A},
            {"email": "second@example.lv", "personal_code": CODE_B},  # not employed at VK
            {"email": "not an address", "personal_code": CODE_A},
            {"email": "x@example.lv", "personal_code": CODE_A, "pseudonym": "0" * 64},
            {"email": "gone@example.lv", "remove": True},
        ],
    }
    answer = lrs.client.post("/v1/institutions/VK/mailboxes", json=body, headers=hr_vk)
    assert answer.status_code == 200, answer.text
    outcomes = [(i["outcome"], i["mbox_sha1sum"]) for i in answer.json()["items"]]
    assert outcomes == [
        ("registered", _sha1(ADDRESS)),
        ("rejected", _sha1("second@example.lv")),
        ("rejected", None),
        ("rejected", _sha1("x@example.lv")),
        ("not_found", _sha1("gone@example.lv")),
    ]
    assert "example.lv" not in answer.text.lower()
    again = lrs.client.post(
        "/v1/institutions/VK/mailboxes",
        json={
            "source_system": "horizon",
            "items": [{"email": ADDRESS.upper(), "personal_code": CODE_A}],
        },
        headers=hr_vk,
    )
    assert again.json()["counts"] == {"unchanged": 1}
    # B's HR: not for VK (404, as if VK did not exist); for its own institution, its own rows.
    hr_vid = tokens.headers("records:write", institutions=["VID"])
    assert (
        lrs.client.post("/v1/institutions/VK/mailboxes", json=body, headers=hr_vid).status_code
        == 404
    )
    own = lrs.client.post(
        "/v1/institutions/VID/mailboxes",
        json={"source_system": "nevis", "items": [{"email": ADDRESS, "personal_code": CODE_B}]},
        headers=hr_vid,
    )
    assert own.json()["counts"] == {"registered": 1}
    with session_scope(app.state.engine) as session:
        rows = session.execute(
            text("SELECT institution, mbox_sha1sum FROM person_mailbox ORDER BY institution")
        ).all()
        assert [tuple(r) for r in rows] == [("VID", _sha1(ADDRESS)), ("VK", _sha1(ADDRESS))]
        dump = " ".join(str(r) for r in session.execute(text("SELECT * FROM person_mailbox")))
        assert "example" not in dump.lower()
    removed = lrs.client.post(
        "/v1/institutions/VK/mailboxes",
        json={"source_system": "horizon", "items": [{"email": ADDRESS, "remove": True}]},
        headers=hr_vk,
    )
    assert removed.json()["counts"] == {"removed": 1}


def test_statements_by_mbox_map_through_the_institutions_registrations(
    lrs: Lrs, app: FastAPI, tokens: TokenFactory
) -> None:
    _employ(lrs.client, tokens, (CODE_A, "VK"), (CODE_B, "VID"))
    admin = tokens.headers("admin")
    assert (
        lrs.client.put(
            MAPPINGS, json={"activity_id": ACTIVITY, "course_code": "C1"}, headers=admin
        ).status_code
        == 200
    )
    for institution, code in (("VK", CODE_A), ("VID", CODE_B)):
        registered = lrs.client.post(
            f"/v1/institutions/{institution}/mailboxes",
            json={"source_system": "hr", "items": [{"email": ADDRESS, "personal_code": code}]},
            headers=tokens.headers("records:write", institutions=[institution]),
        )
        assert registered.json()["counts"] == {"registered": 1}
    # An unrestricted writer without the extension: the address names two people → unmapped.
    ambiguous = _statement({"mbox": f"mailto:{ADDRESS}"})
    assert lrs.post("/statements", json=ambiguous).status_code == 200
    # With the extension, or from a client of one institution, it names one.
    named = _statement(
        {"mbox_sha1sum": _sha1(ADDRESS)}, context={"extensions": {INSTITUTION: "VID"}}
    )
    assert lrs.post("/statements", json=named).status_code == 200
    vk_lms = _lms(tokens, "lms-vk", "xapi:write xapi:read", institutions=["VK"])
    by_vk = _statement({"mbox": f"mailto:{ADDRESS.lower()}"})
    assert lrs.post("/statements", json=by_vk, headers=vk_lms).status_code == 200
    # VK's LMS claiming VID: the person is not its own → rejected, nothing changes at VID.
    claim = _statement({"mbox": f"mailto:{ADDRESS}"}, context={"extensions": {INSTITUTION: "VID"}})
    assert lrs.post("/statements", json=claim, headers=vk_lms).status_code == 200
    assert _enrolments(app) == [("C1", "VID", "completed"), ("C1", "VK", "completed")]
    reader = tokens.headers("xapi:read")
    summary = lrs.client.get("/v1/xapi/statements/outcomes/summary", headers=reader).json()
    assert summary["counts"] == {
        "mapped": 2,
        "unmapped": 1,
        "rejected": 1,
        "error": 0,
        "reverted": 0,
        "ignored": 0,
    }
    assert summary["total"] == 4
    assert {(r["mapping_status"], r["statements"]) for r in summary["reasons"]} == {
        ("unmapped", 1),
        ("rejected", 1),
    }
    [unmapped] = lrs.client.get(
        "/v1/xapi/statements/outcomes", params={"status": "unmapped"}, headers=reader
    ).json()["data"]
    assert unmapped["statement_id"] == ambiguous["id"]
    assert INSTITUTION in unmapped["mapping_detail"]
    mine = lrs.client.get(
        "/v1/xapi/statements/outcomes/summary",
        params={"client_id": "lms-vk"},
        headers=_lms(tokens, "lms-vk", "xapi:read", institutions=["VK"]),
    ).json()
    assert (mine["total"], mine["counts"]["mapped"], mine["counts"]["rejected"]) == (2, 1, 1)
    # No status, no silent default.
    assert lrs.client.get("/v1/xapi/statements/outcomes", headers=reader).status_code in (400, 422)
