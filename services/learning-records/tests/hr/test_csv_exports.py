"""Each HR view's CSV is an operation of its own, `<path>.csv` (the convention of issue #15):
declared text/csv only, answering a header row and the rows of the JSON answer; on the JSON
route `?format=csv` and `Accept: text/csv` answer the same text; other institutions get 404."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from pilnveide_kit.testing import TokenFactory

from .conftest import World, code, load_catalog_copy

AS_OF = {"as_of": "2025-06-30"}
Rows = Callable[[dict[str, Any]], list[dict[str, Any]]]

# The header rows a spreadsheet or an HR system reads (a changed column shows here).
GAPS = (
    "pseudonym,source_system,external_id,institution,position_group,framework,competency,"
    "required_by,required_level,assessed_level,method,assessed_on,gap,status"
)
GAP_SUMMARY = (
    "institution,position_group,framework,competency,required_level,people,meeting,below,"
    "not_assessed"
)
COMPLIANCE = (
    "pseudonym,source_system,external_id,institution,position_group,rule,rule_title,"
    "started_on,due_on,status,missing_since,completed_course,completed_on"
)
CERTIFICATES = (
    "pseudonym,source_system,external_id,institution,course_code,course_title,"
    "certificate_number,issued_on,valid_until,days_left,status"
)
HISTORY = (
    "record,id,institution,source_system,external_id,date,end_date,course_code,session_code,"
    "status,hours,score,max_score,passed,certificate_number,valid_until,revoked_on,rating,"
    "applied_at_work,position_group,management_level,civil_servant,roles,framework,competency,"
    "level,method"
)
COMPETENCIES = "framework,competency,level,method,assessed_on"
HR_UPDATES = (
    "seq,type,pseudonym,display_name,course_code,date,status,valid_until,framework,competency,"
    "level,source_system,external_id,institution,course_title,hours,method,"
    "record_source_system,record_external_id,reason"
)


def _world(client: TestClient, engine: Engine, tokens: TokenFactory) -> str:
    """One VK analyst (a civil servant) with a completion, an assessment and a certificate
    expiring in 15 days; one FM employee. The analyst's pseudonym."""
    load_catalog_copy(engine)
    vk = World(client, tokens.headers("records:write records:read", institutions=["VK"]), "VK")
    fm = World(client, tokens.headers("records:write records:read", institutions=["FM"]), "FM")
    pseudonym = vk.employee(21, start="2024-06-01", group="analysts", civil_servant=True)
    fm.employee(22, start="2024-06-01", group="analysts")
    vk.write(
        "enrolments",
        personal_code=code(21),
        course_code="IND",
        status="completed",
        completed_on="2024-07-01",
        hours=4,
    )
    vk.write(
        "assessments",
        personal_code=code(21),
        framework="FW",
        competency="C1",
        level=3,
        method="manager",
        assessed_on="2025-01-01",
    )
    vk.write(
        "certificates",
        personal_code=code(21),
        course_code="C",
        issued_on="2024-07-15",
        valid_until="2025-07-15",
    )
    return pseudonym


def _items(key: str, drop: tuple[str, ...] = ()) -> Rows:
    """The JSON answer's list under key, as CSV reads it back (None empty, all text)."""

    def rows(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {k: "" if v is None else str(v) for k, v in item.items() if k not in drop}
            for item in body[key]
        ]

    return rows


# (JSON route, its query, the CSV header row, the JSON answer's rows as CSV rows or None where
# the CSV is a flattening of its own, checked below)
VIEWS: list[tuple[str, dict[str, Any], str, Rows | None]] = [
    ("/v1/people/{p}/competency-gaps", AS_OF, GAPS, _items("gaps")),
    ("/v1/institutions/VK/competency-gaps", AS_OF, GAPS, _items("gaps")),
    ("/v1/institutions/VK/competency-gaps/summary", AS_OF, GAP_SUMMARY, _items("summary")),
    ("/v1/people/{p}/compliance", AS_OF, COMPLIANCE, _items("obligations", ("courses",))),
    ("/v1/institutions/VK/compliance", AS_OF, COMPLIANCE, _items("obligations", ("courses",))),
    ("/v1/institutions/VK/certificates/expiring", AS_OF, CERTIFICATES, _items("certificates")),
    ("/v1/people/{p}/history", {}, HISTORY, None),
    ("/v1/people/{p}/competencies", {}, COMPETENCIES, _items("competencies")),
    ("/v1/hr/VK/updates", {}, HR_UPDATES, _items("data")),
]
TEMPLATES = {
    "/v1/people/{p}/": "/v1/people/{pseudonym}/",
    "/v1/institutions/VK/": "/v1/institutions/{institution}/",
    "/v1/hr/VK/": "/v1/hr/{institution}/",
}


def _template(path: str) -> str:
    for concrete, template in TEMPLATES.items():
        path = path.replace(concrete, template)
    return path


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.mark.parametrize("path", [v[0] for v in VIEWS])
def test_the_csv_twin_is_declared_text_csv_only(document: dict[str, Any], path: str) -> None:
    route = _template(path)
    json_route = document["paths"][route]["get"]
    twin = document["paths"][route + ".csv"]["get"]
    assert twin["operationId"] == json_route["operationId"] + "_csv"
    assert list(twin["responses"]["200"]["content"]) == ["text/csv"]
    assert "format" not in {p["name"] for p in twin.get("parameters", [])}
    assert {"401", "403", "404", "422"} <= set(twin["responses"])
    # The JSON route still says it can answer CSV (format=csv or Accept), JSON first.
    assert list(json_route["responses"]["200"]["content"]) == ["application/json", "text/csv"]
    assert "format" in {p["name"] for p in json_route["parameters"]}


def test_each_csv_twin_answers_the_header_and_the_json_rows(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    pseudonym = _world(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])
    for template, params, header, json_rows in VIEWS:
        path = template.replace("{p}", pseudonym)
        answer = client.get(path + ".csv", params=params, headers=vk)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"] == "text/csv; charset=utf-8", path
        assert answer.headers["content-disposition"].startswith("attachment; filename="), path
        lines = answer.text.splitlines()
        assert lines[0] == header, path
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert rows, path
        assert "FM" not in {r["institution"] for r in rows if "institution" in r}, path
        body = client.get(path, params=params, headers=vk)
        assert body.headers["content-type"] == "application/json", path
        if json_rows is not None:
            assert rows == json_rows(body.json()), path
        # The JSON route answers the same CSV when asked by format or by Accept.
        by_format = client.get(path, params={**params, "format": "csv"}, headers=vk)
        assert by_format.text == answer.text, path
        by_accept = client.get(path, params=params, headers={**vk, "Accept": "text/csv"})
        assert by_accept.text == answer.text, path


def test_csv_twins_carry_what_each_view_found(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    pseudonym = _world(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])

    def rows(path: str, **params: Any) -> list[dict[str, str]]:
        answer = client.get(path, params=params, headers=vk)
        assert answer.status_code == 200, answer.text
        return list(csv.DictReader(io.StringIO(answer.text)))

    gaps = rows(f"/v1/people/{pseudonym}/competency-gaps.csv", **AS_OF)
    assert [
        (r["competency"], r["required_level"], r["assessed_level"], r["gap"]) for r in gaps
    ] == [
        ("C1", "4", "3", "1"),
        ("C2", "2", "", ""),
    ]
    summary = rows("/v1/institutions/VK/competency-gaps/summary.csv", **AS_OF)
    assert [(r["competency"], r["people"], r["below"], r["not_assessed"]) for r in summary] == [
        ("C1", "1", "1", "0"),
        ("C2", "1", "0", "1"),
    ]
    compliance = rows("/v1/institutions/VK/compliance.csv", status="missing", **AS_OF)
    assert [(r["external_id"], r["rule"], r["status"]) for r in compliance] == [
        ("emp-21", "INTEGRITY", "missing")
    ]
    expiring = rows("/v1/institutions/VK/certificates/expiring.csv", within_days=20, **AS_OF)
    assert [(r["course_code"], r["days_left"], r["status"]) for r in expiring] == [
        ("C", "15", "expiring")
    ]
    assert rows("/v1/institutions/VK/certificates/expiring.csv", within_days=10, **AS_OF) == []
    history = rows(f"/v1/people/{pseudonym}/history.csv")
    assert [(r["record"], r["date"]) for r in history] == [
        ("employment", "2024-06-01"),
        ("enrolment", "2024-07-01"),
        ("certificate", "2024-07-15"),
        ("assessment", "2025-01-01"),
    ]
    assert rows(f"/v1/people/{pseudonym}/competencies.csv") == [
        {
            "framework": "FW",
            "competency": "C1",
            "level": "3",
            "method": "manager",
            "assessed_on": "2025-01-01",
        }
    ]
    pull = client.get("/v1/hr/VK/updates.csv", params={"limit": 2}, headers=vk)
    assert [r["type"] for r in csv.DictReader(io.StringIO(pull.text))] == [
        "completion",
        "assessment",
    ]
    assert pull.headers["x-total-count"] == "3" and pull.headers["x-next-cursor"]


def test_csv_twins_refuse_other_institutions_and_bad_input(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    pseudonym = _world(client, engine, tokens)
    fm = tokens.headers("records:read", institutions=["FM"])
    for template, params, _, _ in VIEWS:
        path = template.replace("{p}", pseudonym) + ".csv"
        answer = client.get(path, params=params, headers=fm)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json", path
    vk = tokens.headers("records:read", institutions=["VK"])
    bad = client.get(
        "/v1/institutions/VK/certificates/expiring.csv", params={"within_days": -1}, headers=vk
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/institutions/VK/compliance.csv", headers={}).status_code == 401
