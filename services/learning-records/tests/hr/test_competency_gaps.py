"""Competency gaps on hand-built assessments: exact gaps for a person below, at and above the
required level, a position group with a mix, JSON and CSV, and institution B seeing none of A's."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from pilnveide_kit.testing import TokenFactory

from .conftest import World, load_catalog_copy

AS_OF = {"as_of": "2025-06-30"}


def _assess(world: World, number: int, competency: str, level: int, on: str, method: str) -> None:
    from .conftest import code

    world.write(
        "assessments",
        personal_code=code(number),
        framework="FW",
        competency=competency,
        level=level,
        method=method,
        assessed_on=on,
    )


def _worlds(client: TestClient, engine: Engine, tokens: TokenFactory) -> dict[str, str]:
    load_catalog_copy(engine)
    vk = World(client, tokens.headers("records:write records:read", institutions=["VK"]), "VK")
    fm = World(client, tokens.headers("records:write records:read", institutions=["FM"]), "FM")
    people = {
        "below": vk.employee(1, start="2020-01-01", group="analysts"),
        "above": vk.employee(2, start="2020-01-01", group="analysts"),
        "other": vk.employee(3, start="2020-01-01", group="legal"),
        "fm": fm.employee(4, start="2020-01-01", group="analysts"),
    }
    _assess(vk, 1, "C1", 3, "2024-05-01", "manager")  # analysts need 4: gap 1
    _assess(vk, 1, "C2", 2, "2024-05-01", "self")  # everyone needs 2: gap 0
    _assess(vk, 2, "C1", 1, "2023-01-01", "self")  # older: superseded
    _assess(vk, 2, "C1", 5, "2024-06-01", "360")  # gap -1; C2 never assessed
    _assess(vk, 3, "C1", 2, "2024-01-01", "self")  # legal: only the general 2, met
    _assess(vk, 3, "C2", 3, "2024-01-01", "assessment_centre")
    _assess(fm, 4, "C1", 1, "2024-01-01", "self")
    return people


def test_person_gaps_below_at_and_above(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    people = _worlds(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])
    body = client.get(
        f"/v1/people/{people['below']}/competency-gaps", params=AS_OF, headers=vk
    ).json()
    got = [
        (g["competency"], g["required_by"], g["required_level"], g["assessed_level"], g["gap"])
        for g in body["gaps"]
    ]
    assert got == [("C1", "analysts", 4, 3, 1), ("C2", "all_positions", 2, 2, 0)]
    assert [g["status"] for g in body["gaps"]] == ["below", "meets"]
    assert body["gaps"][0]["method"] == "manager"
    assert body["gaps"][0]["assessed_on"] == "2024-05-01"
    assert (body["gaps"][0]["source_system"], body["gaps"][0]["external_id"]) == (
        "hr-vk",
        "emp-1",
    )
    above = client.get(
        f"/v1/people/{people['above']}/competency-gaps", params=AS_OF, headers=vk
    ).json()["gaps"]
    assert [(g["assessed_level"], g["gap"], g["status"]) for g in above] == [
        (5, -1, "above"),
        (None, None, "not_assessed"),
    ]
    answer = client.get(
        f"/v1/people/{people['below']}/competency-gaps.csv",
        params=AS_OF,
        headers=vk,
    )
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["competency"], r["gap"], r["method"]) for r in rows] == [
        ("C1", "1", "manager"),
        ("C2", "0", "self"),
    ]


def test_position_group_with_a_mix_and_its_summary(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    _worlds(client, engine, tokens)
    vk = tokens.headers("records:read", institutions=["VK"])
    body = client.get(
        "/v1/institutions/VK/competency-gaps",
        params={**AS_OF, "position_group": "analysts"},
        headers=vk,
    ).json()
    assert body["people"] == 2
    assert sorted((g["competency"], str(g["gap"])) for g in body["gaps"]) == [
        ("C1", "-1"),
        ("C1", "1"),
        ("C2", "0"),
        ("C2", "None"),
    ]
    keys = ("competency", "required_level", "people", "meeting", "below", "not_assessed")
    summary = [tuple(s[k] for k in keys) for s in body["summary"]]
    assert summary == [("C1", 4, 2, 1, 1, 0), ("C2", 2, 2, 1, 0, 1)]
    whole = client.get(
        "/v1/institutions/VK/competency-gaps/summary", params=AS_OF, headers=vk
    ).json()["summary"]
    assert [(s["position_group"], s["competency"], s["meeting"]) for s in whole] == [
        ("analysts", "C1", 1),
        ("analysts", "C2", 1),
        ("legal", "C1", 1),
        ("legal", "C2", 1),
    ]
    answer = client.get(
        "/v1/institutions/VK/competency-gaps/summary.csv",
        params=AS_OF,
        headers=vk,
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["position_group"], r["competency"], r["people"]) for r in rows] == [
        ("analysts", "C1", "2"),
        ("analysts", "C2", "2"),
        ("legal", "C1", "1"),
        ("legal", "C2", "1"),
    ]


def test_institution_b_sees_none_of_a(
    client: TestClient, engine: Engine, tokens: TokenFactory
) -> None:
    people = _worlds(client, engine, tokens)
    fm = tokens.headers("records:read", institutions=["FM"])
    for path in (
        "/v1/institutions/VK/competency-gaps",
        "/v1/institutions/VK/competency-gaps/summary",
        f"/v1/people/{people['below']}/competency-gaps",
    ):
        assert client.get(path, params=AS_OF, headers=fm).status_code == 404
    own = client.get("/v1/institutions/FM/competency-gaps", params=AS_OF, headers=fm).json()
    assert {g["pseudonym"] for g in own["gaps"]} == {people["fm"]}
    assert {g["external_id"] for g in own["gaps"]} == {"emp-4"}
