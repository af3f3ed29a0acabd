"""A person's history and competency profile as CSV: the `.csv` operations, and format=csv on
the JSON routes (not silently JSON)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from pilnveide_kit.testing import TokenFactory

from .conftest import World, code, load_catalog_copy


def test_history_and_competencies_as_csv(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    load_catalog_copy(engine)
    vk = World(client, tokens.headers("records:write records:read", institutions=["VK"]), "VK")
    pseudonym = vk.employee(11, start="2020-01-01", group="analysts", roles=[{"role": "mentor"}])
    vk.write(
        "enrolments",
        personal_code=code(11),
        course_code="IND",
        status="completed",
        completed_on="2024-02-01",
        hours=4,
    )
    for level, on in ((2, "2023-01-01"), (4, "2024-01-01")):
        vk.write(
            "assessments",
            personal_code=code(11),
            framework="FW",
            competency="C1",
            level=level,
            method="manager",
            assessed_on=on,
        )
    reader = tokens.headers("records:read", institutions=["VK"])
    history = client.get(f"/v1/people/{pseudonym}/history.csv", headers=reader)
    assert history.status_code == 200
    assert history.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(history.text)))
    assert [(r["record"], r["date"]) for r in rows] == [
        ("employment", "2020-01-01"),
        ("enrolment", "2024-02-01"),
        ("assessment", "2023-01-01"),
        ("assessment", "2024-01-01"),
    ]
    assert (rows[0]["position_group"], rows[0]["roles"]) == ("analysts", "mentor")
    assert (rows[1]["course_code"], rows[1]["status"], rows[1]["hours"]) == (
        "IND",
        "completed",
        "4.0",
    )
    profile = client.get(f"/v1/people/{pseudonym}/competencies.csv", headers=reader)
    assert profile.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(profile.text))) == [
        {
            "framework": "FW",
            "competency": "C1",
            "level": "4",
            "method": "manager",
            "assessed_on": "2024-01-01",
        }
    ]
    other = tokens.headers("records:read", institutions=["FM"])
    answer = client.get(f"/v1/people/{pseudonym}/history", params={"format": "csv"}, headers=other)
    assert answer.status_code == 404
    bad = client.get(f"/v1/people/{pseudonym}/history", params={"format": "xml"}, headers=reader)
    assert bad.status_code == 422
