"""Compliance on hand-built records: a new employee inside and past the induction period, the
integrity rule's passed test, an expired and an expiring certificate; JSON and CSV; B sees none
of A's."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from pilnveide_kit.testing import TokenFactory

from .conftest import World, code, load_catalog_copy

AS_OF = {"as_of": "2025-06-30"}


def _worlds(client: TestClient, engine: Engine, tokens: TokenFactory) -> dict[str, str]:
    load_catalog_copy(engine)
    vk = World(client, tokens.headers("records:write records:read", institutions=["VK"]), "VK")
    fm = World(client, tokens.headers("records:write records:read", institutions=["FM"]), "FM")
    people = {
        "inside": vk.employee(5, start="2025-03-01"),  # induction due 2025-08-28
        "past": vk.employee(6, start="2024-06-01", civil_servant=True),  # due 2024-11-28
        "done": vk.employee(7, start="2024-01-01", civil_servant=True),
        "veteran": vk.employee(8, start="2019-01-01"),  # started before the rule's date
        "fm": fm.employee(9, start="2025-01-01"),
    }
    completed = {"status": "completed", "hours": 4}
    vk.write(
        "enrolments",
        personal_code=code(7),
        course_code="IND",
        completed_on="2024-02-01",
        **completed,
    )
    vk.write(
        "enrolments",
        personal_code=code(7),
        course_code="INT",
        completed_on="2024-03-01",
        **completed,
    )
    vk.write(
        "enrolments",
        personal_code=code(6),
        course_code="INT",
        completed_on="2024-07-01",
        **completed,
    )
    vk.write(
        "results", personal_code=code(6), course_code="INT", attempted_on="2024-07-01", passed=True
    )
    vk.write(
        "results", personal_code=code(7), course_code="INT", attempted_on="2024-03-01", passed=False
    )
    certificates = [
        (5, "C", "2024-06-01", "2025-06-01"),  # expired 29 days before
        (6, "C", "2024-07-15", "2025-07-15"),  # expires in 15 days
        (7, "C", "2024-01-01", "2026-01-01"),  # outside the window
        (7, "IND", "2023-05-01", "2025-05-01"),  # expired, but renewed below
        (7, "IND", "2025-04-01", "2027-04-01"),
    ]
    for number, course, issued, until in certificates:
        vk.write(
            "certificates",
            personal_code=code(number),
            course_code=course,
            issued_on=issued,
            valid_until=until,
        )
    fm.write(
        "certificates",
        personal_code=code(9),
        course_code="C",
        issued_on="2024-01-01",
        valid_until="2025-07-01",
    )
    return people


def test_induction_inside_and_past_its_period_and_the_tested_integrity_rule(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    people = _worlds(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])
    body = client.get("/v1/institutions/VK/compliance", params=AS_OF, headers=vk).json()
    by_person = {p: name for name, p in people.items()}
    got = sorted(
        (by_person[o["pseudonym"]], o["rule"], o["status"], o["due_on"], o["missing_since"])
        for o in body["obligations"]
    )
    assert got == [
        ("done", "INDUCTION", "met", "2024-06-29", None),
        ("done", "INTEGRITY", "missing", "2024-01-01", "2024-01-01"),  # no passed test
        ("inside", "INDUCTION", "due", "2025-08-28", None),
        ("past", "INDUCTION", "missing", "2024-11-28", "2024-11-28"),
        ("past", "INTEGRITY", "met", "2024-06-01", None),
    ]
    done = next(o for o in body["obligations"] if o["rule"] == "INDUCTION" and o["status"] == "met")
    assert (done["completed_course"], done["completed_on"]) == ("IND", "2024-02-01")
    assert {o["external_id"] for o in body["obligations"]} == {"emp-5", "emp-6", "emp-7"}
    assert [
        (s["rule"], s["applies"], s["met"], s["due"], s["missing"]) for s in body["summary"]
    ] == [
        ("INDUCTION", 3, 1, 1, 1),
        ("INTEGRITY", 2, 1, 0, 1),
    ]
    missing = client.get(
        "/v1/institutions/VK/compliance.csv",
        params={**AS_OF, "status": "missing"},
        headers=vk,
    )
    assert missing.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(missing.text)))
    assert sorted((r["external_id"], r["rule"], r["missing_since"]) for r in rows) == [
        ("emp-6", "INDUCTION", "2024-11-28"),
        ("emp-7", "INTEGRITY", "2024-01-01"),
    ]
    later = client.get(
        f"/v1/people/{people['inside']}/compliance",
        params={"as_of": "2025-09-01"},
        headers=vk,
    ).json()["obligations"]
    assert [(o["status"], o["missing_since"]) for o in later] == [("missing", "2025-08-28")]


def test_expired_and_expiring_certificates(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    people = _worlds(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])
    body = client.get(
        "/v1/institutions/VK/certificates/expiring",
        params={**AS_OF, "within_days": 30},
        headers=vk,
    ).json()
    got = [
        (c["pseudonym"], c["course_code"], c["valid_until"], c["days_left"], c["status"])
        for c in body["certificates"]
    ]
    assert got == [
        (people["inside"], "C", "2025-06-01", -29, "expired"),
        (people["past"], "C", "2025-07-15", 15, "expiring"),
    ]
    assert body["certificates"][0]["course_title"] == "Kurss"
    answer = client.get(
        "/v1/institutions/VK/certificates/expiring.csv",
        params={**AS_OF, "within_days": 10},
        headers=vk,
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["external_id"], r["status"]) for r in rows] == [("emp-5", "expired")]


def test_institution_b_sees_none_of_a(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    people = _worlds(client, engine, tokens)
    fm = tokens.headers("records:read", institutions=["FM"])
    for path in (
        "/v1/institutions/VK/compliance",
        "/v1/institutions/VK/certificates/expiring",
        f"/v1/people/{people['past']}/compliance",
    ):
        assert client.get(path, params=AS_OF, headers=fm).status_code == 404
    own = client.get("/v1/institutions/FM/compliance", params=AS_OF, headers=fm).json()
    assert [(o["external_id"], o["status"]) for o in own["obligations"]] == [("emp-9", "due")]
    certs = client.get(
        "/v1/institutions/FM/certificates/expiring", params=AS_OF, headers=fm
    ).json()["certificates"]
    assert [(c["external_id"], c["status"]) for c in certs] == [("emp-9", "expiring")]
