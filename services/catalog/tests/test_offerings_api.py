"""Programmes and courses over HTTP: filters, tags, validation of links, If-Match."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

COURSE = {
    "code": "ETHICS-LOCAL",
    "title": {"lv": "Ētika pašvaldībās", "en": "Ethics in municipalities"},
    "format": "workshop",
    "provider": "VAS",
    "target_groups": ["all_employees"],
    "measures": ["1.1"],
    "indicators": ["1.1.6"],
    "programme": "INTEG",
    "hours": 3,
}


def _codes(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [row["code"] for row in response.json()["data"]]


def test_integrity_e_learning_is_seeded_as_the_plan_needs(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    course = seeded.get("/v1/courses/INTEG-E", headers=reader)
    assert course.status_code == 200
    body = course.json()
    assert body["title"]["en"] == "Integrity e-learning with a knowledge test"
    assert (body["mandatory"], body["knowledge_test"], body["format"]) == (True, True, "e_learning")
    assert 0 < body["pass_mark"] <= 100
    assert body["measures"] == ["1.1"] and "1.1.1" in body["indicators"]
    assert {"measure:1.1", "indicator:1.1.1", "programme:INTEG", "mandatory"} <= set(body["tags"])
    assert course.headers["etag"] == '"v1"'


def test_every_seeded_link_exists_in_the_plan(seeded: TestClient, reader: dict[str, str]) -> None:
    measures = set(_codes(seeded, "/v1/measures", reader, plan="LAP-2021-2027", limit=500))
    indicators = set(_codes(seeded, "/v1/indicators", reader, plan="LAP-2021-2027", limit=500))
    for url in ("/v1/programmes", "/v1/courses"):
        for row in seeded.get(url, params={"limit": 500}, headers=reader).json()["data"]:
            assert set(row["measures"]) <= measures, row["code"]
            assert set(row["indicators"]) <= indicators, row["code"]


def test_course_filters(seeded: TestClient, reader: dict[str, str]) -> None:
    assert "INTEG-E" in _codes(seeded, "/v1/courses", reader, measure="1.1")
    assert _codes(seeded, "/v1/courses", reader, indicator="1.5.1") == ["PROC-CORE"]
    assert set(_codes(seeded, "/v1/courses", reader, programme="PROC")) == {
        "PROC-CORE",
        "PROC-EXPERT",
    }
    mandatory = _codes(seeded, "/v1/courses", reader, mandatory="true")
    assert "INTEG-E" in mandatory and "PROC-EXPERT" not in mandatory
    optional = _codes(seeded, "/v1/courses", reader, mandatory="false")
    assert not set(mandatory) & set(optional)
    e_learning = _codes(seeded, "/v1/courses", reader, format="e_learning", measure="1.1")
    assert e_learning == ["INTEG-E"]
    assert _codes(seeded, "/v1/courses", reader, target_group="procurement_specialist") == [
        "PROC-CORE"
    ]
    assert _codes(seeded, "/v1/programmes", reader, measure="4.1") == ["DIGI"]
    assert "INTEG-E" in _codes(seeded, "/v1/courses", reader, q="zinasanu parbaudi")
    assert "INTEG-E" in _codes(seeded, "/v1/courses", reader, tag="integrity")


def test_course_pages_cover_everything_once(seeded: TestClient, reader: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = seeded.get("/v1/courses", params=params, headers=reader).json()
        seen += [c["code"] for c in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert len(seen) == len(_codes(seeded, "/v1/courses", reader, limit=500))


def test_create_then_change_with_if_match(seeded: TestClient, writer: dict[str, str]) -> None:
    created = seeded.post("/v1/courses", json=COURSE, headers=writer)
    assert created.status_code == 201, created.text
    assert "ETHICS-LOCAL" in _codes(seeded, "/v1/courses", writer, programme="INTEG")
    etag = created.headers["etag"]
    assert (
        seeded.patch("/v1/courses/ETHICS-LOCAL", json={"hours": 4}, headers=writer).status_code
        == 428
    )
    changed = seeded.patch(
        "/v1/courses/ETHICS-LOCAL",
        json={"knowledge_test": True, "pass_mark": 80, "measures": ["1.1", "1.3"]},
        headers={**writer, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert "ETHICS-LOCAL" in _codes(seeded, "/v1/courses", writer, measure="1.3")
    lost_update = seeded.patch(
        "/v1/courses/ETHICS-LOCAL", json={"hours": 99}, headers={**writer, "If-Match": etag}
    )
    assert lost_update.status_code == 412
    assert seeded.get("/v1/courses/ETHICS-LOCAL", headers=writer).json()["hours"] == 3
    same = seeded.patch(
        "/v1/courses/ETHICS-LOCAL",
        json={"pass_mark": 80},
        headers={**writer, "If-Match": changed.headers["etag"]},
    )
    assert same.json()["version"] == 2  # nothing changed, no new version
    archived = seeded.post(
        "/v1/courses/ETHICS-LOCAL/archive", headers={**writer, "If-Match": changed.headers["etag"]}
    )
    assert archived.status_code == 200
    assert "ETHICS-LOCAL" not in _codes(seeded, "/v1/courses", writer, programme="INTEG")
    assert "ETHICS-LOCAL" in _codes(
        seeded, "/v1/courses", writer, programme="INTEG", include_archived="true"
    )
    history = seeded.get("/v1/changes", params={"code": "ETHICS-LOCAL"}, headers=writer).json()[
        "data"
    ]
    assert [c["operation"] for c in history] == ["create", "update", "archive"]
    assert history[1]["snapshot"]["pass_mark"] == 80


def test_invalid_bodies_name_the_field_and_change_nothing(
    seeded: TestClient, writer: dict[str, str]
) -> None:
    cases = [
        ({**COURSE, "measures": ["9.9"]}, "measures.0"),
        ({**COURSE, "indicators": ["1.1.1", "1.1.77"]}, "indicators.1"),
        ({**COURSE, "format": "telepathy"}, "format"),
        ({**COURSE, "target_groups": ["astronauts"]}, "target_groups.0"),
        ({**COURSE, "pass_mark": 70}, "pass_mark"),
        ({**COURSE, "pass_mark": 170, "knowledge_test": True}, "pass_mark"),
        ({**COURSE, "provider": "NOPE"}, "provider"),
        ({k: v for k, v in COURSE.items() if k != "title"}, "title"),
    ]
    for body, field in cases:
        response = seeded.post("/v1/courses", json=body, headers=writer)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["name"] for e in response.json()["errors"]], (field, response.json())
    assert seeded.get("/v1/courses/ETHICS-LOCAL", headers=writer).status_code == 404
    assert seeded.get("/v1/courses/NO-SUCH", headers=writer).json()["status"] == 404


def test_programme_write_and_read(seeded: TestClient, writer: dict[str, str]) -> None:
    body = {
        "code": "DATA-LIT",
        "title": {"lv": "Datu pratības programma", "en": "Data literacy programme"},
        "format": "module_programme",
        "measures": ["4.3"],
        "target_groups": ["eu_funds_specialist"],
    }
    created = seeded.post("/v1/programmes", json=body, headers=writer)
    assert created.status_code == 201, created.text
    again = seeded.post("/v1/programmes", json=body, headers=writer)
    assert again.status_code == 409
    assert seeded.get("/v1/programmes/INTEG", headers=writer).json()["courses"][:1] == [
        "INTEG-CTRL"
    ]
