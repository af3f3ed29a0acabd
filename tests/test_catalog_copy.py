"""learning-records keeps a copy of the catalog: tags count, codes are checked, courses wait.

The catalog runs in-process with the plan loaded (as `make run` loads it); learning-records
pulls its change feed over HTTP exactly as its background task does, one round at a time.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.reference.sync import CatalogSync, CatalogUnavailable
from pilnveide_kit.testing import (
    TokenFactory,
)

from .inprocess import catalog_and_records_databases, synced_records


class World:
    """The catalog, learning-records, and one sync round on demand."""

    def __init__(self, catalog: TestClient, records: TestClient, sync: CatalogSync) -> None:
        self.catalog, self.records, self.sync = catalog, records, sync

    def pull(self) -> int:
        return asyncio.run(self.sync.sync_once())


@pytest.fixture(scope="module")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A catalog and a learning-records database of this backend, migrated once."""
    workdir = tmp_path_factory.mktemp("catalog_copy")
    with catalog_and_records_databases(backend, workdir, "copy") as urls:
        yield urls


@pytest.fixture
def world(tokens: TokenFactory, databases: tuple[str, str]) -> Iterator[World]:
    with synced_records(tokens, databases) as (catalog, records, sync):
        yield World(catalog, records, sync)


def _employment(number: int, institution: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_system": "hr",
        "external_id": f"emp-{number}",
        "personal_code": synthetic_personal_code(number),
        "institution": institution,
        "sector": "state",
        "civil_servant": True,
        "valid_from": "2020-01-01",
        **extra,
    }


def _enrolment(number: int, course: str, institution: str) -> dict[str, Any]:
    return {
        "source_system": "lms-a",
        "external_id": f"enr-{number}-{course}",
        "personal_code": synthetic_personal_code(number),
        "course_code": course,
        "institution": institution,
        "status": "completed",
        "completed_on": "2024-03-01",
    }


def _write(world: World, headers: dict[str, str], kind: str, items: list[Any]) -> list[Any]:
    answer = world.records.post(f"/v1/{kind}/bulk", json=items, headers=headers)
    assert answer.status_code == 200, answer.text
    items_out: list[Any] = answer.json()["items"]
    return items_out


def _people(world: World, headers: dict[str, str], **flt: Any) -> int:
    answer = world.records.post(
        "/v1/aggregations/query", json={"metric": "people", "filter": flt}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


def test_course_tags_come_from_the_catalog_with_no_hand_pushed_step(
    world: World, tokens: TokenFactory
) -> None:
    writer = tokens.headers("records:write records:read")
    assert world.pull() > 0
    status = world.records.get("/v1/catalog-copy", headers=writer).json()
    reader = tokens.headers("catalog:read")
    courses = world.catalog.get("/v1/courses", params={"limit": 500}, headers=reader).json()
    assert status["counts"]["course"] == len(courses["data"]) > 0
    assert status["counts"]["reference_list"] == 6
    assert status["last_error"] is None and status["catalog_version"] > 0
    _write(world, writer, "employment", [_employment(1, "VK"), _employment(2, "FM")])
    _write(world, writer, "enrolments", [_enrolment(1, "INTEG-E", "VK")])
    _write(world, writer, "enrolments", [_enrolment(2, "DIGI-BASE", "FM")])
    assert _people(world, writer, course_tags=["measure:1.1"]) == 1
    assert _people(world, writer, course_tags=["measure:4.1"]) == 1
    assert world.pull() == 0  # nothing new: a round is one cheap request


@pytest.mark.parametrize(
    ("kind", "item", "field", "valid"),
    [
        ("employment", _employment(5, "VK", position_group="astronaut"), "position_group", "audit"),
        ("employment", _employment(5, "VK", roles=[{"role": "wizard"}]), "roles.0.role", "mentor"),
        ("employment", _employment(5, "NO-SUCH"), "institution", "institutions"),
        (
            "employment",
            _employment(5, "VK", valid_to="2024-01-31", leaving_reason="bored"),
            "leaving_reason",
            "own_wish, performance_or_discipline",
        ),
        (
            "headcounts",
            {
                "source_system": "hr",
                "external_id": "h1",
                "institution": "VK",
                "sector": "state",
                "role": "wizard",
                "as_of": "2024-01-01",
                "headcount": 3,
            },
            "role",
            "trust_person",
        ),
    ],
)
def test_unknown_codes_are_rejected_naming_the_valid_ones(
    world: World, tokens: TokenFactory, kind: str, item: dict[str, Any], field: str, valid: str
) -> None:
    writer = tokens.headers("records:write records:read")
    world.pull()
    head = world.records.get("/v1/changes/head", headers=writer).json()["last_seq"]
    [outcome] = _write(world, writer, kind, [item])
    assert outcome["status"] == "rejected"
    assert outcome["reason"].startswith(f"{field}: ") and valid in outcome["reason"]
    assert world.records.get("/v1/changes/head", headers=writer).json()["last_seq"] == head


@pytest.mark.parametrize(
    ("framework", "competency", "level", "reason"),
    [
        ("NOPE", "DC1.1", 3, "framework: 'NOPE' is not known; valid: DIGCOMP-2.2"),
        ("DIGCOMP-2.2", "DC9.9", 3, "competency: 'DC9.9' is not a competency of DIGCOMP-2.2"),
        ("DIGCOMP-2.2", "DC1.1", 9, "level: 9 is outside the scale of DIGCOMP-2.2; valid: 1–8"),
    ],
)
def test_assessments_are_checked_against_the_framework(
    world: World, tokens: TokenFactory, framework: str, competency: str, level: int, reason: str
) -> None:
    writer = tokens.headers("records:write records:read")
    world.pull()
    item = {
        "source_system": "nevis",
        "external_id": "a1",
        "personal_code": synthetic_personal_code(7),
        "institution": "VK",
        "framework": framework,
        "competency": competency,
        "level": level,
        "method": "self",
        "assessed_on": "2024-05-01",
    }
    [outcome] = _write(world, writer, "assessments", [item])
    assert outcome["status"] == "rejected" and outcome["reason"].startswith(reason)
    item.update(framework="DIGCOMP-2.2", competency="DC1.1", level=8)
    assert _write(world, writer, "assessments", [item])[0]["status"] == "accepted"


def test_an_unknown_course_is_kept_flagged_listed_and_counted_once_the_catalog_has_it(
    world: World, tokens: TokenFactory
) -> None:
    writer = tokens.headers("records:write records:read")
    world.pull()
    _write(world, writer, "employment", [_employment(1, "VK"), _employment(2, "FM")])
    [flagged] = _write(world, writer, "enrolments", [_enrolment(1, "ETHICS-NEW", "VK")])
    assert flagged["status"] == "accepted"
    assert flagged["warning"].startswith("course_not_in_catalog: 'ETHICS-NEW'")
    _write(world, writer, "enrolments", [_enrolment(2, "ETHICS-NEW", "FM")])
    assert _people(world, writer, courses=["ETHICS-NEW"]) == 0

    vk = tokens.headers("records:read", institutions=["VK"])
    listed = world.records.get("/v1/data-quality/unknown-courses", headers=vk).json()
    assert listed["catalog_synced"] is True
    assert [
        (r["institution"], r["source_system"], r["course_code"], r["enrolments"])
        for r in listed["data"]
    ] == [("VK", "lms-a", "ETHICS-NEW", 1)]
    everyone = world.records.get(
        "/v1/data-quality/unknown-courses", params={"format": "csv"}, headers=writer
    )
    assert everyone.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(everyone.text)))
    assert [(r["institution"], r["course_code"]) for r in rows] == [
        ("FM", "ETHICS-NEW"),
        ("VK", "ETHICS-NEW"),
    ]

    course = {
        "code": "ETHICS-NEW",
        "title": {"lv": "Ētika"},
        "format": "workshop",
        "measures": ["1.1"],
    }
    added = world.catalog.post(
        "/v1/courses", json=course, headers=tokens.headers("catalog:read catalog:write")
    )
    assert added.status_code == 201, added.text
    head = world.records.get("/v1/changes/head", headers=writer).json()["last_seq"]
    assert world.pull() == 1
    assert world.records.get("/v1/changes/head", headers=writer).json()["last_seq"] > head
    assert _people(world, writer, courses=["ETHICS-NEW"]) == 2
    assert _people(world, writer, course_tags=["measure:1.1"]) == 2
    assert (
        world.records.get("/v1/data-quality/unknown-courses", headers=writer).json()["data"] == []
    )


def test_a_single_write_and_the_problems_report_show_the_flag(
    world: World, tokens: TokenFactory
) -> None:
    writer = tokens.headers("records:write records:read")
    world.pull()
    single = world.records.post(
        "/v1/enrolments", json=_enrolment(1, "NO-SUCH-COURSE", "VK"), headers=writer
    )
    assert single.status_code == 201, single.text
    assert single.json()["warning"].startswith("course_not_in_catalog: 'NO-SUCH-COURSE'")
    report = world.records.post(
        "/v1/enrolments/bulk",
        params={"report": "problems"},
        json=[_enrolment(2, "INTEG-E", "VK"), _enrolment(3, "NO-SUCH-COURSE", "VK")],
        headers=writer,
    ).json()
    assert report["counts"]["accepted"] == 2
    assert [(i["index"], i["status"]) for i in report["items"]] == [(1, "accepted")]
    assert report["items"][0]["warning"].startswith("course_not_in_catalog")


def test_while_the_catalog_is_down_the_copy_stays_and_the_failure_is_noted(
    world: World, tokens: TokenFactory
) -> None:
    writer = tokens.headers("records:write records:read")
    world.pull()
    before = world.records.get("/v1/catalog-copy", headers=writer).json()
    down = CatalogSync(
        world.sync.settings, world.sync.engine, httpx.MockTransport(_refuse_connection)
    )
    with pytest.raises(CatalogUnavailable):
        asyncio.run(down.sync_once())
    down._note_failure("catalog unreachable: ConnectError")
    after = world.records.get("/v1/catalog-copy", headers=writer).json()
    assert after["counts"] == before["counts"]
    assert after["catalog_version"] == before["catalog_version"]
    assert after["last_error"] == "catalog unreachable: ConnectError"
    [rejected] = _write(world, writer, "employment", [_employment(3, "VK", roles=[{"role": "x"}])])
    assert rejected["status"] == "rejected"  # still checked against the copy kept
    asyncio.run(down.aclose())


def _refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def test_requirements_and_mandatory_learning_edited_in_the_catalog_reach_the_hr_views(
    world: World, tokens: TokenFactory
) -> None:
    """A framework's requirements and a mandatory learning rule, changed in the catalog with
    If-Match, change the competency gaps and compliance records answers after one pull."""
    world.pull()
    vk = tokens.headers("records:write records:read", institutions=["VK"])
    job = _employment(21, "VK", position_group="procurement", valid_from="2025-01-01")
    assert _write(world, vk, "employment", [job])[0]["status"] == "accepted"
    assessment = {
        "source_system": "nevis",
        "external_id": "a21",
        "personal_code": synthetic_personal_code(21),
        "institution": "VK",
        "framework": "DIGCOMP-2.2",
        "competency": "DC4.2",
        "level": 3,
        "method": "manager",
        "assessed_on": "2025-03-01",
    }
    assert _write(world, vk, "assessments", [assessment])[0]["status"] == "accepted"
    params = {"as_of": "2025-06-30", "framework": "DIGCOMP-2.2"}

    def dc42() -> tuple[Any, ...]:
        rows = world.records.get(
            "/v1/institutions/VK/competency-gaps", params=params, headers=vk
        ).json()["gaps"]
        row = next(r for r in rows if r["competency"] == "DC4.2")
        return row["required_by"], row["required_level"], row["gap"], row["status"]

    assert dc42() == ("all_positions", 3, 0, "meets")
    catalog = tokens.headers("catalog:read catalog:write")
    path = "/v1/frameworks/DIGCOMP-2.2"
    etag = world.catalog.get(path, headers=catalog).headers["etag"]
    requirements = [
        {"position_group": "all_positions", "competency": None, "level": 3},
        {"position_group": "procurement", "competency": "DC4.2", "level": 5},
    ]
    edited = world.catalog.put(
        f"{path}/requirements",
        json={"requirements": requirements},
        headers={**catalog, "If-Match": etag},
    )
    assert edited.status_code == 200, edited.text
    assert world.pull() >= 1
    assert dc42() == ("procurement", 5, 2, "below")

    def procurement() -> list[Any]:
        answer = world.records.get(
            "/v1/institutions/VK/compliance",
            params={"as_of": "2025-06-30", "rule": "PROCUREMENT-CORE"},
            headers=vk,
        )
        return [(o["status"], o["missing_since"]) for o in answer.json()["obligations"]]

    assert procurement() == [("missing", "2025-01-01")]
    rule = "/v1/mandatory-learning/PROCUREMENT-CORE"
    etag = world.catalog.get(rule, headers=catalog).headers["etag"]
    archived = world.catalog.post(f"{rule}/archive", headers={**catalog, "If-Match": etag})
    assert archived.status_code == 200, archived.text
    world.pull()
    assert procurement() == []
