"""Mandatory learning rules (seeded from the plan) and framework requirements edited on their
own: versioned, If-Match guarded, recorded in the change feed that learning-records follows."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_the_plan_seeds_the_mandatory_learning_it_names(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    rules = seeded.get("/v1/mandatory-learning", headers=reader).json()["data"]
    by_code = {r["code"]: r for r in rules}
    assert set(by_code) == {
        "INTEGRITY-CIVIL-SERVANTS",
        "INDUCTION-NEW-EMPLOYEES",
        "INDUCTION-POLITICAL-OFFICIALS",
        "INDUCTION-LEGAL-POLICY-MAKERS",
        "PROCUREMENT-CORE",
    }
    integrity = by_code["INTEGRITY-CIVIL-SERVANTS"]
    assert integrity["requires_passed_test"] is True
    assert integrity["audience"]["civil_servants"] is True
    assert "zināšanu pārbaudēm par integritātes jautājumiem" in integrity["source"]["text_lv"]
    political = by_code["INDUCTION-POLITICAL-OFFICIALS"]
    assert political["courses"] == ["POLIT-INTRO"]
    assert political["source"]["text_lv"].startswith("Obligātas īsas ievada e-mācības")
    assert by_code["PROCUREMENT-CORE"]["audience"]["position_groups"] == ["procurement"]


def _rule(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "TEST-RULE",
        "title": {"lv": "Pārbaudes noteikums"},
        "courses": ["INTEG-E"],
        "audience": {"roles": ["trust_person"]},
        "within_days_of_start": 30,
    }
    body.update(overrides)
    return body


def test_rules_are_versioned_and_checked(seeded: TestClient, writer: dict[str, str]) -> None:
    created = seeded.post("/v1/mandatory-learning", json=_rule(), headers=writer)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"v1"'
    for bad in (
        _rule(code="X1", courses=["NO-SUCH-COURSE"]),
        _rule(code="X2", audience={"roles": ["no_such_role"]}),
        _rule(code="X3", audience={}),
    ):
        answer = seeded.post("/v1/mandatory-learning", json=bad, headers=writer)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    fields = {k: v for k, v in _rule(within_days_of_start=60).items() if k != "code"}
    path = "/v1/mandatory-learning/TEST-RULE"
    assert seeded.put(path, json=fields, headers=writer).status_code == 428
    stale = seeded.put(path, json=fields, headers={**writer, "If-Match": '"v9"'})
    assert stale.status_code == 412
    done = seeded.put(path, json=fields, headers={**writer, "If-Match": '"v1"'})
    assert done.status_code == 200, done.text
    assert (done.json()["version"], done.json()["within_days_of_start"]) == (2, 60)
    changes = seeded.get(
        "/v1/changes", params={"entity": "mandatory_learning", "code": "TEST-RULE"}, headers=writer
    ).json()["data"]
    assert [(c["operation"], c["version"]) for c in changes] == [("create", 1), ("update", 2)]
    assert changes[-1]["snapshot"]["within_days_of_start"] == 60


def test_framework_requirements_are_edited_alone(
    seeded: TestClient, writer: dict[str, str]
) -> None:
    path = "/v1/frameworks/DIGCOMP-2.2"
    current = seeded.get(path, headers=writer)
    version = current.json()["version"]
    requirements = [
        {"position_group": "all_positions", "competency": None, "level": 2},
        {"position_group": "procurement", "competency": "DC4.2", "level": 5},
    ]
    body = {"requirements": requirements}
    assert seeded.put(f"{path}/requirements", json=body, headers=writer).status_code == 428
    done = seeded.put(
        f"{path}/requirements", json=body, headers={**writer, "If-Match": current.headers["etag"]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["requirements"] == requirements
    assert done.json()["version"] == version + 1
    assert len(done.json()["competencies"]) == 5  # the tree is untouched
    bad = seeded.put(
        f"{path}/requirements",
        json={
            "requirements": [{"position_group": "procurement", "competency": "NOPE", "level": 2}]
        },
        headers={**writer, "If-Match": done.headers["etag"]},
    )
    assert bad.status_code == 422
    unknown_group = seeded.put(
        f"{path}/requirements",
        json={"requirements": [{"position_group": "nobody", "competency": None, "level": 2}]},
        headers={**writer, "If-Match": done.headers["etag"]},
    )
    assert unknown_group.status_code == 422
    change = seeded.get(
        "/v1/changes", params={"entity": "framework", "code": "DIGCOMP-2.2"}, headers=writer
    ).json()["data"][-1]
    assert change["snapshot"]["requirements"] == requirements
