"""Statements → learning records: enrolments and results, unmapped and voided statements."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from learning_records.enrolments.models import Enrolment
from learning_records.people.models import Person
from learning_records.people.pseudonyms import pseudonymise, synthetic_personal_code
from learning_records.results.models import TestAttempt
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory

CODE = synthetic_personal_code(7)
PERSONAL = "https://pilnveide.lv/personal-code"
ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://pilnveide.lv/courses/INTEG-E"


def _learning(verb: str, activity: str = COURSE, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": PERSONAL, "name": CODE}},
        "verb": {"id": ADL + verb},
        "object": {"id": activity},
        "timestamp": "2025-03-04T10:00:00Z",
        **extra,
    }


def _enrolments(app: FastAPI) -> list[Enrolment]:
    with session_scope(app.state.engine) as session:
        return list(session.scalars(select(Enrolment)))


def _outcome(lrs: Any, tokens: TokenFactory, status: str) -> list[dict[str, Any]]:
    response = lrs.client.get(
        "/v1/xapi/statements/outcomes",
        params={"status": status},
        headers=tokens.headers("xapi:read"),
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_completed_creates_an_enrolment_for_the_pseudonymised_person(
    lrs: Any, app: FastAPI, settings: LearningRecordsSettings, tokens: TokenFactory
) -> None:
    """registered then completed on a course activity: one enrolment, completed; the person is
    known by the pseudonym of the personal code only; the outcome is kept as mapped."""
    registered, completed = _learning("registered"), _learning("completed")
    assert lrs.post("/statements", json=[registered, completed]).status_code == 200
    [enrolment] = _enrolments(app)
    assert (enrolment.course_code, enrolment.status) == ("INTEG-E", "completed")
    with session_scope(app.state.engine) as session:
        [person] = session.scalars(select(Person)).all()
    assert person.pseudonym == pseudonymise(CODE, settings.pseudonym_pepper)
    mapped = {row["statement_id"] for row in _outcome(lrs, tokens, "mapped")}
    assert mapped == {registered["id"], completed["id"]}
    with session_scope(app.state.engine) as session:
        payloads = [row for row in session.execute(select(Enrolment.external_id))]
    assert CODE not in str(payloads)


def test_passed_records_a_test_result(lrs: Any, app: FastAPI) -> None:
    """passed with a score: the enrolment is completed and a passed test attempt recorded."""
    body = _learning("passed", result={"score": {"raw": 18, "min": 0, "max": 20}, "success": True})
    assert lrs.post("/statements", json=body).status_code == 200
    with session_scope(app.state.engine) as session:
        [attempt] = session.scalars(select(TestAttempt)).all()
    assert (attempt.passed, attempt.score, attempt.max_score) == (True, 18, 20)
    assert _enrolments(app)[0].status == "completed"


def test_unmapped_statements_are_kept_and_listed(
    lrs: Any, app: FastAPI, tokens: TokenFactory
) -> None:
    """Statements meaning no record are stored and listed as unmapped with the reason."""
    other_verb = _learning("experienced")
    other_activity = _learning("completed", activity="http://example.lv/unknown")
    no_account = {**_learning("completed"), "actor": {"mbox": "mailto:a@example.lv"}}
    lrs.post("/statements", json=[other_verb, other_activity, no_account])
    assert _enrolments(app) == []
    unmapped = {
        row["statement_id"]: row["mapping_detail"] for row in _outcome(lrs, tokens, "unmapped")
    }
    assert "not mapped to a learning event" in unmapped[other_verb["id"]]
    assert "not mapped to a catalog course" in unmapped[other_activity["id"]]
    # A mailbox no HR system registered names nobody (docs/xapi.md, "Learners identified by
    # e-mail").
    assert "mailbox is not registered" in unmapped[no_account["id"]]
    assert len(lrs.statements()) == 3


def test_unknown_hr_id_is_an_error_outcome(lrs: Any, app: FastAPI, tokens: TokenFactory) -> None:
    """An HR id no person carries: the statement is stored with the learning records' refusal."""
    body = {
        **_learning("attended"),
        "actor": {"account": {"homePage": "https://hr.example.lv", "name": "E-1"}},
    }
    assert lrs.post("/statements", json=body).status_code == 200
    [row] = _outcome(lrs, tokens, "error")
    assert row["statement_id"] == body["id"]
    assert "rejected" in row["mapping_detail"]
    assert _enrolments(app) == []


def test_voiding_undoes_the_effect(lrs: Any, app: FastAPI, tokens: TokenFactory) -> None:
    """A voided statement's effect on the records is undone; its outcome becomes reverted."""
    registered, completed = _learning("registered"), _learning("completed")
    lrs.post("/statements", json=[registered, completed])
    void = {
        "actor": {"mbox": "mailto:lms@example.lv"},
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": completed["id"]},
    }
    assert lrs.post("/statements", json=void).status_code == 200
    assert [e.status for e in _enrolments(app)] == ["registered"]
    [reverted] = _outcome(lrs, tokens, "reverted")
    assert (reverted["statement_id"], reverted["voided"]) == (completed["id"], True)
    first_void = {**void, "object": {"objectType": "StatementRef", "id": registered["id"]}}
    lrs.post("/statements", json=first_void)
    assert _enrolments(app) == []


def test_course_mapping_admin(lrs: Any, app: FastAPI, tokens: TokenFactory) -> None:
    """An admin maps an LMS activity id to a course; later statements on it map."""
    activity = "https://lms.example.lv/course/view.php?id=12"
    mapping = {"activity_id": activity, "course_code": "DIG-1"}
    assert (
        lrs.client.put(
            "/v1/xapi/course-mappings", json=mapping, headers=tokens.headers("xapi:write")
        ).status_code
        == 403
    )
    assert (
        lrs.client.put(
            "/v1/xapi/course-mappings", json=mapping, headers=tokens.headers("admin")
        ).status_code
        == 200
    )
    listed = lrs.client.get("/v1/xapi/course-mappings", headers=tokens.headers("xapi:read")).json()
    assert listed["data"] == [{**mapping, "owner": ""}]  # a global mapping
    lrs.post("/statements", json=_learning("attended", activity=activity))
    assert [(e.course_code, e.status) for e in _enrolments(app)] == [("DIG-1", "attended")]
    removed = lrs.client.delete(
        "/v1/xapi/course-mappings",
        params={"activity_id": activity},
        headers=tokens.headers("admin"),
    )
    assert removed.status_code == 204
    again = lrs.client.delete(
        "/v1/xapi/course-mappings",
        params={"activity_id": activity},
        headers=tokens.headers("admin"),
    )
    assert again.status_code == 404


# a bare carriage return in an unquoted field (schemathesis), a field past csv's size limit
@pytest.mark.parametrize(
    "body", [b"\xc3\x8d\r6", b"activity_id,course_code\n" + b"x" * 200_000 + b",DIG-1\n"]
)
def test_a_malformed_csv_upload_is_a_400_problem_and_changes_nothing(
    lrs: Any, tokens: TokenFactory, body: bytes
) -> None:
    # each made the csv module raise, and the upload answered 500
    answer = lrs.client.post(
        "/v1/xapi/course-mappings/bulk",
        content=body,
        headers={**tokens.headers("admin"), "Content-Type": "text/csv"},
    )
    assert answer.status_code == 400, answer.text  # as any body that is not JSON or CSV
    assert answer.headers["content-type"].startswith("application/problem+json")
    listed = lrs.client.get("/v1/xapi/course-mappings", headers=tokens.headers("xapi:read"))
    assert listed.json()["data"] == []
