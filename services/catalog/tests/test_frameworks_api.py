"""Competency frameworks: the DigComp 2.2 seed, JSON writes, IMS CASE 1.0 export and import."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

IDENTIFYING = {"identifier", "uri", "rubricId", "rubricCriterionId", "lastChangeDateTime"}


def _strip(value: Any) -> Any:
    """A CASE package without identifiers, URIs and timestamps (they differ between frameworks)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IDENTIFYING}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_digcomp_has_five_areas_21_competences_and_eight_levels(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    body = seeded.get("/v1/frameworks/DIGCOMP-2.2", headers=reader).json()
    areas = body["competencies"]
    assert len(areas) == 5
    assert sum(len(a["children"]) for a in areas) == 21
    assert [lv["level"] for lv in body["levels"]] == list(range(1, 9))
    assert areas[3]["children"][1]["title"]["en"] == "Protecting personal data and privacy"
    summary = seeded.get("/v1/frameworks", headers=reader).json()["data"][0]
    assert (summary["levels"], summary["competencies"]) == (8, 26)
    assert any(r["position_group"] == "information_technology" for r in body["requirements"])


def test_case_export_has_the_case_parts(seeded: TestClient, reader: dict[str, str]) -> None:
    response = seeded.get("/v1/frameworks/DIGCOMP-2.2/case", params={"lang": "en"}, headers=reader)
    assert response.status_code == 200
    package = response.json()
    assert package["CFDocument"]["title"].startswith("Digital Competence Framework")
    assert len(package["CFItems"]) == 26
    assert {a["associationType"] for a in package["CFAssociations"]} == {"isChildOf"}
    by_code = {i["humanCodingScheme"]: i for i in package["CFItems"]}
    parent_of = {
        a["originNodeURI"]["identifier"]: a["destinationNodeURI"]["identifier"]
        for a in package["CFAssociations"]
    }
    assert parent_of[by_code["DC4.2"]["identifier"]] == by_code["DC4"]["identifier"]
    assert parent_of[by_code["DC4"]["identifier"]] == package["CFDocument"]["identifier"]
    criteria = package["CFRubrics"][0]["CFRubricCriteria"]
    assert len(criteria) == 21
    assert [lv["score"] for lv in criteria[0]["CFRubricCriterionLevels"]] == list(range(1, 9))
    latvian = seeded.get(
        "/v1/frameworks/DIGCOMP-2.2/case", params={"lang": "lv"}, headers=reader
    ).json()
    assert latvian["CFDocument"]["language"] == "lv"
    assert latvian["CFItems"][0]["fullStatement"] == "Informācijpratība un datpratība"
    again = seeded.get(
        "/v1/frameworks/DIGCOMP-2.2/case", params={"lang": "en"}, headers=reader
    ).json()
    assert again == package  # identifiers are stable between exports


def test_case_round_trip(seeded: TestClient, writer: dict[str, str]) -> None:
    exported = seeded.get(
        "/v1/frameworks/DIGCOMP-2.2/case", params={"lang": "en"}, headers=writer
    ).json()
    imported = seeded.post(
        "/v1/frameworks/import/case", params={"code": "DIGCOMP-COPY"}, json=exported, headers=writer
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["requirements"] == []
    re_exported = seeded.get(
        "/v1/frameworks/DIGCOMP-COPY/case", params={"lang": "en"}, headers=writer
    ).json()
    assert re_exported["CFDocument"]["identifier"] != exported["CFDocument"]["identifier"]
    assert _strip(re_exported) == _strip(exported)


def test_case_import_refuses_what_it_cannot_read(
    seeded: TestClient, writer: dict[str, str]
) -> None:
    exported = seeded.get("/v1/frameworks/DIGCOMP-2.2/case", headers=writer).json()
    no_statement = copy.deepcopy(exported)
    del no_statement["CFItems"][2]["fullStatement"]
    response = seeded.post(
        "/v1/frameworks/import/case", params={"code": "BROKEN"}, json=no_statement, headers=writer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "CFItems.2.fullStatement"
    no_levels = {**exported, "CFRubrics": []}
    response = seeded.post(
        "/v1/frameworks/import/case", params={"code": "BROKEN"}, json=no_levels, headers=writer
    )
    assert response.status_code == 422 and response.json()["errors"][0]["name"] == "CFRubrics"
    assert (
        seeded.post(
            "/v1/frameworks/import/case", params={"code": "BROKEN"}, json={"x": 1}, headers=writer
        ).json()["errors"][0]["name"]
        == "CFDocument"
    )
    assert seeded.get("/v1/frameworks/BROKEN", headers=writer).status_code == 404


def test_replace_needs_if_match_and_validates(seeded: TestClient, writer: dict[str, str]) -> None:
    current = seeded.get("/v1/frameworks/DIGCOMP-2.2", headers=writer)
    body = {
        k: current.json()[k]
        for k in (
            "title",
            "description",
            "publisher",
            "version_label",
            "source_url",
            "levels",
            "competencies",
            "requirements",
        )
    }
    body["requirements"] = [
        *body["requirements"],
        {"position_group": "procurement", "competency": "DC1.2", "level": 4},
    ]
    assert seeded.put("/v1/frameworks/DIGCOMP-2.2", json=body, headers=writer).status_code == 428
    done = seeded.put(
        "/v1/frameworks/DIGCOMP-2.2",
        json=body,
        headers={**writer, "If-Match": current.headers["etag"]},
    )
    assert done.status_code == 200 and done.json()["version"] == 2
    stale = seeded.put(
        "/v1/frameworks/DIGCOMP-2.2",
        json=body,
        headers={**writer, "If-Match": current.headers["etag"]},
    )
    assert stale.status_code == 412
    bad_group = {
        **body,
        "requirements": [{"position_group": "wizards", "competency": None, "level": 3}],
    }
    response = seeded.put(
        "/v1/frameworks/DIGCOMP-2.2",
        json=bad_group,
        headers={**writer, "If-Match": done.headers["etag"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "requirements.0.position_group"
    bad_level = {
        **body,
        "requirements": [{"position_group": "audit", "competency": "DC1.1", "level": 9}],
    }
    response = seeded.put(
        "/v1/frameworks/DIGCOMP-2.2",
        json=bad_level,
        headers={**writer, "If-Match": done.headers["etag"]},
    )
    assert response.status_code == 422
    assert seeded.get("/v1/frameworks/DIGCOMP-2.2", headers=writer).json()["version"] == 2
