"""Resort breakdowns count distinct people per resort, not sums of institution rows.

The catalog runs in-process with the plan loaded; learning-records pulls its change feed (as its
background task does) and resolves each institution's resort from that copy: FM heads FM's
resort with IUB under it, VK heads the Prime Minister's with PKC. Records are written and read
only through learning-records' public API; the indicators engine reads them over HTTP.

  p1 moves FM -> IUB in 2024 (inside FM's resort), learning once in each;
  p2 moves IUB -> VK (across resorts), learning once in each;
  p3 is at PKC, learning once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute, with_resorts
from indicators.engine.results import IndicatorResult
from indicators.settings import IndicatorsSettings
from indicators.sources.http import HttpRecordsSource, ServiceToken
from indicators.sources.memory import Employment, Enrolment, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo
from learning_records.people.pseudonyms import synthetic_personal_code
from pilnveide_contracts.records import AggregationQuery, AggregationResult
from pilnveide_kit.testing import (
    TokenFactory,
)

from .inprocess import catalog_and_records_databases, synced_records


@pytest.fixture(scope="module")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    workdir = tmp_path_factory.mktemp("resorts")
    with catalog_and_records_databases(backend, workdir, "resort") as urls:
        yield urls


@pytest.fixture
def world(tokens: TokenFactory, databases: tuple[str, str]) -> Iterator[tuple[TestClient, Any]]:
    """learning-records holding the three people, its catalog copy synced; and the catalog."""
    with synced_records(tokens, databases) as (catalog, records, sync):
        assert asyncio.run(sync.sync_once()) > 0
        writer = tokens.headers("records:write records:read")
        _write(records, writer, "employment", EMPLOYMENTS)
        _write(records, writer, "enrolments", ENROLMENTS)
        yield records, catalog


def _job(person: int, institution: str, start: str, end: str | None = None) -> dict[str, Any]:
    return {
        "source_system": "hr",
        "external_id": f"emp-{person}-{institution}",
        "personal_code": synthetic_personal_code(person),
        "institution": institution,
        "sector": "state",
        "valid_from": start,
        "valid_to": end,
    }


def _learnt(person: int, course: str, institution: str, day: str) -> dict[str, Any]:
    return {
        "source_system": "lms",
        "external_id": f"enr-{person}-{course}",
        "personal_code": synthetic_personal_code(person),
        "course_code": course,
        "institution": institution,
        "status": "completed",
        "completed_on": day,
    }


EMPLOYMENTS = [
    _job(1, "FM", "2020-01-01", "2024-03-31"),
    _job(1, "IUB", "2024-04-01"),
    _job(2, "IUB", "2020-01-01", "2024-05-31"),
    _job(2, "VK", "2024-06-01"),
    _job(3, "PKC", "2020-01-01"),
]
ENROLMENTS = [
    _learnt(1, "INTEG-E", "FM", "2024-02-01"),
    _learnt(1, "DIGI-BASE", "IUB", "2024-09-01"),
    _learnt(2, "INTEG-E", "IUB", "2024-03-01"),
    _learnt(2, "DIGI-BASE", "VK", "2024-09-01"),
    _learnt(3, "INTEG-E", "PKC", "2024-04-01"),
]
#: Per institution: a mover counts in each institution they learnt in.
BY_INSTITUTION = {"FM": 1, "IUB": 2, "VK": 1, "PKC": 1}
#: Per resort: p1 once in FM's (not twice: FM + IUB rows would give 3), p2 once in each.
BY_RESORT = {"FM": 2, "VK": 2}


def _write(client: TestClient, headers: dict[str, str], kind: str, items: list[Any]) -> None:
    answer = client.post(f"/v1/{kind}/bulk", json=items, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] == len(items), answer.text


def _groups(answer: dict[str, Any], index: int, key: str) -> dict[str, int]:
    return {g["key"][key]: g["value"] for g in answer["groups"] if g["set"] == index}


def test_records_count_a_mover_once_per_resort_and_once_in_each_institution(
    world: tuple[TestClient, Any], tokens: TokenFactory
) -> None:
    records, _catalog = world
    answer = records.post(
        "/v1/aggregations/query",
        json={
            "metric": "people",
            "filter": {"statuses": ["completed"]},
            "group_by_sets": [["institution"], ["resort"], ["resort", "year"]],
        },
        headers=tokens.headers("records:read"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3
    assert _groups(body, 0, "institution") == BY_INSTITUTION
    assert _groups(body, 1, "resort") == BY_RESORT
    assert {
        (g["key"]["resort"], g["key"]["year"]): g["value"] for g in body["groups"] if g["set"] == 2
    } == {
        ("FM", 2024): 2,
        ("VK", 2024): 2,
    }


def test_frequency_counts_a_persons_enrolments_of_the_year_together(
    world: tuple[TestClient, Any], tokens: TokenFactory
) -> None:
    """Two a year: p1 and p2 had two each (in two institutions), p3 one."""
    records, _catalog = world
    answer = records.post(
        "/v1/aggregations/query",
        json={
            "metric": "people_with_frequency",
            "frequency": {"min_per_year": 2, "max_per_year": 2},
            "group_by_sets": [["institution"], ["resort"]],
        },
        headers=tokens.headers("records:read"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 2
    assert {g["key"]["institution"]: g["value"] for g in body["groups"] if g["set"] == 0} == {
        "FM": 1,
        "IUB": 2,
        "VK": 1,
    }
    assert {g["key"]["resort"]: g["value"] for g in body["groups"] if g["set"] == 1} == {
        "FM": 2,
        "VK": 1,
    }


def test_the_indicators_engine_takes_resort_rows_from_records(
    world: tuple[TestClient, Any], tokens: TokenFactory
) -> None:
    records, catalog = world
    served = catalog.get(
        "/v1/institutions", params={"limit": 500}, headers=tokens.headers("catalog:read")
    ).json()["data"]
    institutions = with_resorts(
        InstitutionInfo(code=i["code"], sector=i["sector"], kind=i["kind"], resort=i["parent"])
        for i in served
    )
    token = ServiceToken(
        IndicatorsSettings(
            environment="test", service_token=tokens.token("records:read", client_id="ind")
        )
    )
    spec = DefinitionSpec.model_validate(
        {"kind": "distinct_people", "filter": {"statuses": ["completed"]}}
    )

    async def run() -> IndicatorResult:
        transport = httpx.ASGITransport(app=records.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://records") as client:
            return await compute(
                "1.1.6",
                spec,
                1,
                IndicatorInfo(code="1.1.6", measure="1.1", deadline_year=2027),
                Params(as_of=date(2024, 12, 31), breakdowns=("institution", "resort")),
                HttpRecordsSource(client, token),
                Dataset(institutions=institutions),
            )

    result = asyncio.run(run())
    rows = {b.dimension: {r.key: r.value for r in b.rows} for b in result.breakdowns}
    assert result.value == 3
    assert rows["institution"] == BY_INSTITUTION
    assert rows["resort"] == BY_RESORT


@pytest.mark.parametrize(
    "question",
    [
        {"metric": "people", "group_by_sets": [["institution"], ["resort"], ["resort", "year"]]},
        {
            "metric": "people_with_frequency",
            "frequency": {"min_per_year": 2, "max_per_year": 2},
            "group_by_sets": [["institution"], ["resort"]],
        },
        {"metric": "people_with_frequency", "group_by": ["resort"]},
        {"metric": "enrolments", "group_by": ["resort"]},
    ],
)
def test_the_in_memory_double_answers_as_records_does(
    world: tuple[TestClient, Any], tokens: TokenFactory, question: dict[str, Any]
) -> None:
    """The indicators' test double, given the same people, answers exactly as records."""
    records, catalog = world
    served = catalog.get(
        "/v1/institutions", params={"limit": 500}, headers=tokens.headers("catalog:read")
    ).json()["data"]
    pseudonyms = {synthetic_personal_code(n): f"p{n}" for n in (1, 2, 3)}
    double = MemoryRecords(
        employments=[
            Employment(
                person=pseudonyms[e["personal_code"]],
                institution=e["institution"],
                valid_from=date.fromisoformat(e["valid_from"]),
                valid_to=date.fromisoformat(e["valid_to"]) if e["valid_to"] else None,
            )
            for e in EMPLOYMENTS
        ],
        enrolments=[
            Enrolment(
                person=pseudonyms[e["personal_code"]],
                course=e["course_code"],
                status=e["status"],
                status_date=date.fromisoformat(e["completed_on"]),
            )
            for e in ENROLMENTS
        ],
        institutions=[
            InstitutionInfo(code=i["code"], kind=i["kind"], resort=i["parent"]) for i in served
        ],
    )
    query = AggregationQuery.model_validate(question)
    answer = records.post(
        "/v1/aggregations/query",
        json=query.model_dump(mode="json", exclude_none=True),
        headers=tokens.headers("records:read"),
    )
    assert answer.status_code == 200, answer.text
    expected = AggregationResult.model_validate(answer.json())
    found = asyncio.run(double.aggregate(query))

    def groups(result: AggregationResult) -> set[tuple[Any, ...]]:
        return {(g.set, tuple(sorted(g.key.items())), float(g.value)) for g in result.groups}

    assert groups(found) == groups(expected) and found.groups
    assert float(found.total) == float(expected.total)
