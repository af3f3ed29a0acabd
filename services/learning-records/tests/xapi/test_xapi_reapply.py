"""Re-applying course mappings to statements stored before the mapping existed: a dry run that
counts and changes nothing, a real run that maps them as fresh statements would, a second run
that changes nothing; institution B's re-apply touches none of institution A's statements."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from learning_records.enrolments.models import Enrolment
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.xapi.models import XapiStatement
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory

from .conftest import employ, restricted_lrs

PERSONAL = "https://pilnveide.lv/personal-code"
ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY = "https://lms.example.lv/course/view.php?id=77"
OTHER = "https://lms.example.lv/course/view.php?id=78"
CODE_A, CODE_B = synthetic_personal_code(311), synthetic_personal_code(422)
REAPPLY = "/v1/xapi/course-mappings/reapply"


def _learning(code: str, verb: str, activity: str = ACTIVITY) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": PERSONAL, "name": code}},
        "verb": {"id": ADL + verb},
        "object": {"id": activity},
        "timestamp": "2025-03-04T10:00:00Z",
    }


def _enrolments(app: FastAPI) -> list[tuple[str, str | None, str]]:
    with session_scope(app.state.engine) as session:
        rows = session.execute(
            select(Enrolment.course_code, Enrolment.institution, Enrolment.status)
        ).all()
    return sorted((r.course_code, r.institution, r.status) for r in rows)


def _outcomes(app: FastAPI) -> dict[str, str]:
    with session_scope(app.state.engine) as session:
        rows = session.execute(
            select(XapiStatement.statement_id, XapiStatement.mapping_status)
        ).all()
    return {r.statement_id: r.mapping_status for r in rows}


def _map(client: TestClient, tokens: TokenFactory, activity: str, course: str) -> dict[str, Any]:
    response = client.put(
        "/v1/xapi/course-mappings",
        json={"activity_id": activity, "course_code": course},
        headers=tokens.headers("admin"),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _reapply(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(REAPPLY, json=body or None, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_reapply_maps_statements_stored_before_the_mapping(
    lrs: Any, app: FastAPI, tokens: TokenFactory
) -> None:
    """Statements sent before their activity was mapped stay unmapped; the mapping's PUT counts
    them; a dry run counts them and changes nothing; the real run creates the enrolment as fresh
    statements would; a second run changes nothing. Voided ones are left alone."""
    registered, completed = _learning(CODE_A, "registered"), _learning(CODE_A, "completed")
    doomed = _learning(CODE_A, "attended", activity=OTHER)
    elsewhere = _learning(CODE_A, "attended", activity="https://lms.example.lv/unmapped")
    posted = lrs.post("/statements", json=[registered, completed, doomed, elsewhere])
    assert posted.status_code == 200, posted.text
    void = {
        "actor": {"mbox": "mailto:lms@example.lv"},
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": doomed["id"]},
    }
    assert lrs.post("/statements", json=void).status_code == 200
    mine = [registered["id"], completed["id"], doomed["id"], elsewhere["id"]]
    assert {_outcomes(app)[i] for i in mine} == {"unmapped"}
    assert _enrolments(app) == []

    assert _map(lrs.client, tokens, ACTIVITY, "DIG-1")["remappable_statements"] == 2
    assert _map(lrs.client, tokens, OTHER, "DIG-2")["remappable_statements"] == 0  # voided

    admin = tokens.headers("admin")
    before = _outcomes(app)
    dry = _reapply(lrs.client, admin)
    assert dry == {
        "dry_run": True,
        "examined": 3,  # the two on ACTIVITY and the one on an unmapped activity
        "matched": 2,
        "by_course": {"DIG-1": 2},
        "mapped": 0,
        "rejected": 0,
        "errors": 0,
    }
    assert _outcomes(app) == before
    assert _enrolments(app) == []

    done = _reapply(lrs.client, admin, dry_run=False)
    assert (done["dry_run"], done["matched"], done["mapped"]) == (False, 2, 2)
    assert done["by_course"] == {"DIG-1": 2}
    assert _enrolments(app) == [("DIG-1", None, "completed")]
    after = _outcomes(app)
    assert (after[registered["id"]], after[completed["id"]]) == ("mapped", "mapped")
    assert (after[doomed["id"]], after[elsewhere["id"]]) == ("unmapped", "unmapped")

    again = _reapply(lrs.client, admin, dry_run=False)
    assert (again["examined"], again["matched"], again["mapped"]) == (1, 0, 0)
    assert _outcomes(app) == after
    assert _enrolments(app) == [("DIG-1", None, "completed")]


def test_reapply_needs_admin_and_checks_the_activity(lrs: Any, tokens: TokenFactory) -> None:
    """Only admins re-apply; an activity filter that is not an IRI is a 400 problem."""
    denied = lrs.client.post(REAPPLY, json={}, headers=tokens.headers("xapi:write xapi:read"))
    assert denied.status_code == 403
    bad = lrs.client.post(
        REAPPLY, json={"activity_id": "not an iri"}, headers=tokens.headers("admin")
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_b_reapply_touches_none_of_a_statements(
    lrs: Any, app: FastAPI, tokens: TokenFactory
) -> None:
    """A (VK) and B (VID) each stored statements before the mapping; B also sent one about A's
    learner. B's restricted admin counts and maps only B's partition, with B's writer rights
    (its statement about A's learner is rejected); A's statements stay unmapped until A's own
    re-apply, which puts A's enrolment at VK."""
    client = lrs.client
    employ(client, tokens, [(CODE_A, "VK"), (CODE_B, "VID")])
    a, b = (
        restricted_lrs(client, tokens, institutions=[inst], client_id=f"lms-{inst}")
        for inst in ("VK", "VID")
    )
    a_done = _learning(CODE_A, "completed")
    b_done, b_about_a = _learning(CODE_B, "completed"), _learning(CODE_A, "attended")
    assert a.post("/statements", json=a_done).status_code == 200
    assert b.post("/statements", json=[b_done, b_about_a]).status_code == 200
    _map(client, tokens, ACTIVITY, "DIG-1")
    admin_b = tokens.headers("admin", institutions=["VID"], client_id="admin-b")
    admin_a = tokens.headers("admin", institutions=["VK"], client_id="admin-a")

    dry_b = _reapply(client, admin_b)
    assert (dry_b["examined"], dry_b["by_course"]) == (2, {"DIG-1": 2})
    done_b = _reapply(client, admin_b, dry_run=False)
    assert (done_b["mapped"], done_b["rejected"]) == (1, 1)
    assert _enrolments(app) == [("DIG-1", "VID", "completed")]
    outcomes = _outcomes(app)
    assert outcomes[a_done["id"]] == "unmapped"
    assert (outcomes[b_done["id"]], outcomes[b_about_a["id"]]) == ("mapped", "rejected")
    assert _reapply(client, admin_b, dry_run=False)["examined"] == 0

    done_a = _reapply(client, admin_a, dry_run=False)
    assert (done_a["examined"], done_a["mapped"]) == (1, 1)
    assert _enrolments(app) == [("DIG-1", "VID", "completed"), ("DIG-1", "VK", "completed")]
    # a client restricted to no institution has no partition: refused, nothing changes
    nobody = client.post(
        REAPPLY, json={"dry_run": False}, headers=tokens.headers("admin", institutions=[])
    )
    assert nobody.status_code == 403
