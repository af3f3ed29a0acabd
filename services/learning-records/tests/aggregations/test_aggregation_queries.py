"""Aggregations and headcounts on a small hand-built dataset, with exact expected values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col

from learning_records.reference.models import CatalogEntry
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory

A, B, C, D = 1, 2, 3, 4  # people, by synthetic code number


def _post(
    client: TestClient, headers: dict[str, str], kind: str, items: list[dict[str, Any]]
) -> None:
    for n, item in enumerate(items):
        item.setdefault("source_system", "test")
        item.setdefault("external_id", f"{kind}-{n}")
    response = client.post(f"/v1/{kind}/bulk", json=items, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["accepted"] == len(items), response.text


@pytest.fixture
def dataset(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> Callable[[int], str]:
    """A moves from VK to FM mid-2024; B is municipal and failed then passed; D will be erased."""

    def p(n: int) -> dict[str, str]:
        return {"personal_code": make_code(n)}

    _post(
        client,
        writer,
        "employment",
        [
            {
                **p(A),
                "institution": "VK",
                "sector": "state",
                "position_group": "procurement",
                "valid_from": "2024-01-01",
                "valid_to": "2024-06-30",
                "roles": [{"role": "trust_person"}],
            },
            {
                **p(A),
                "institution": "FM",
                "sector": "state",
                "position_group": "procurement",
                "valid_from": "2024-07-01",
            },
            {
                **p(B),
                "institution": "RIGA-SOC",
                "municipality": "RIGA",
                "sector": "municipal",
                "position_group": "hr",
                "management_level": "middle",
                "valid_from": "2020-01-01",
            },
            {
                **p(C),
                "institution": "VK",
                "sector": "state",
                "management_level": "top",
                "civil_servant": True,
                "valid_from": "2020-01-01",
            },
            {**p(D), "institution": "FM", "sector": "state", "valid_from": "2020-01-01"},
        ],
    )
    _post(
        client,
        writer,
        "enrolments",
        [
            {
                **p(A),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-03-01",
                "hours": 4,
            },
            {
                **p(A),
                "course_code": "DIG-1",
                "status": "completed",
                "completed_on": "2024-09-01",
                "hours": 6,
            },
            {
                **p(B),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-05-01",
                "hours": 4,
            },
            {**p(C), "course_code": "INTEG-E", "status": "registered", "status_date": "2024-04-01"},
            {
                **p(D),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-02-02",
                "hours": 4,
            },
            {
                **p(D),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2023-02-02",
                "hours": 4,
            },
        ],
    )
    _post(
        client,
        writer,
        "results",
        [
            {
                **p(A),
                "course_code": "INTEG-E",
                "attempted_on": "2024-03-01",
                "passed": True,
                "score": 80,
            },
            {
                **p(B),
                "course_code": "INTEG-E",
                "attempted_on": "2024-04-20",
                "passed": False,
                "score": 40,
            },
            {
                **p(B),
                "course_code": "INTEG-E",
                "attempted_on": "2024-05-01",
                "passed": True,
                "score": 75,
            },
        ],
    )
    _post(
        client,
        writer,
        "course-tags",
        [
            {"course_code": "INTEG-E", "tag": "measure:1.1"},
            {"course_code": "DIG-1", "tag": "measure:4.1"},
        ],
    )
    return make_code


def _query(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/aggregations/query", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


COMPLETED_2024 = {"statuses": ["completed"], "period": {"from": "2024-01-01", "to": "2024-12-31"}}


def _groups(result: dict[str, Any]) -> dict[Any, Any]:
    return {
        tuple(g["key"].values()) if len(g["key"]) > 1 else next(iter(g["key"].values())): g["value"]
        for g in result["groups"]
    }


def test_people_by_institution_at_event_date_and_as_of_a_date(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    flt = {**COMPLETED_2024, "courses": ["INTEG-E"]}
    at_event = _query(client, writer, metric="people", filter=flt, group_by=["institution"])
    assert _groups(at_event) == {"VK": 1, "RIGA-SOC": 1, "FM": 1}
    assert at_event["total"] == 3
    at_year_end = _query(
        client,
        writer,
        metric="people",
        group_by=["institution"],
        filter={**flt, "employment_as_of": "2024-12-31"},
    )
    assert _groups(at_year_end) == {"FM": 2, "RIGA-SOC": 1}
    by_tag = _query(
        client, writer, metric="people", filter={**COMPLETED_2024, "course_tags": ["measure:1.1"]}
    )
    assert by_tag["total"] == 3
    assert at_event["cutoff_seq"] > 0


def test_a_person_in_two_institutions_in_one_year_is_one_person_in_the_total(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    result = _query(
        client,
        writer,
        metric="people",
        filter={"statuses": ["completed"], "institutions": ["VK", "FM"]},
        group_by=["institution", "year"],
    )
    assert _groups(result) == {("FM", 2023): 1, ("FM", 2024): 2, ("VK", 2024): 1}
    assert result["total"] == 2  # A (VK then FM) and D


def test_test_failed_then_passed_counts_as_passed(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    flt = {**COMPLETED_2024, "courses": ["INTEG-E"]}
    assert (
        _query(client, writer, metric="people", filter={**flt, "test_passed": True})["total"] == 2
    )
    assert (
        _query(client, writer, metric="people", filter={**flt, "test_passed": False})["total"] == 1
    )


def test_institutions_municipalities_enrolments_and_hours(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    assert _query(client, writer, metric="institutions", filter=COMPLETED_2024)["total"] == 3
    assert _query(client, writer, metric="municipalities", filter=COMPLETED_2024)["total"] == 1
    enrolments = _query(
        client, writer, metric="enrolments", filter=COMPLETED_2024, group_by=["sector"]
    )
    assert _groups(enrolments) == {"municipal": 1, "state": 3}
    hours = _query(client, writer, metric="hours", filter=COMPLETED_2024, group_by=["institution"])
    assert _groups(hours) == {"FM": 10.0, "RIGA-SOC": 4.0, "VK": 4.0}
    assert hours["total"] == 18.0


def test_person_attribute_filters(client: TestClient, writer: dict[str, str], dataset: Any) -> None:
    roles = _query(client, writer, metric="people", filter={"roles": ["trust_person"]})
    assert roles["total"] == 1  # A held the role when completing INTEG-E at VK
    assert (
        _query(client, writer, metric="people", filter={"management_levels": ["top"]})["total"] == 1
    )
    assert _query(client, writer, metric="people", filter={"civil_servant": True})["total"] == 1
    assert _query(client, writer, metric="people", filter={"sectors": ["municipal"]})["total"] == 1
    groups = _query(
        client,
        writer,
        metric="people",
        filter={"position_groups": ["procurement", "hr"]},
        group_by=["position_group"],
    )
    assert _groups(groups) == {"hr": 1, "procurement": 1}


def test_people_with_frequency(client: TestClient, writer: dict[str, str], dataset: Any) -> None:
    twice = _query(
        client,
        writer,
        metric="people_with_frequency",
        filter={"statuses": ["completed"]},
        frequency={"min_per_year": 2, "max_per_year": 2},
    )
    assert _groups(twice) == {2024: 1}
    assert twice["total"] == 1
    once = _query(
        client,
        writer,
        metric="people_with_frequency",
        filter={"statuses": ["completed"]},
        frequency={"min_per_year": 1, "max_per_year": 1},
        group_by=["year"],
    )
    assert _groups(once) == {2023: 1, 2024: 2}


def test_erased_person_is_no_longer_counted(
    client: TestClient, writer: dict[str, str], tokens: TokenFactory, dataset: Callable[[int], str]
) -> None:
    flt = {**COMPLETED_2024, "courses": ["INTEG-E"]}
    assert _query(client, writer, metric="people", filter=flt)["total"] == 3
    eraser = tokens.headers("records:erase")
    response = client.post(
        "/v1/privacy/erasure", json={"personal_code": dataset(D), "dry_run": False}, headers=eraser
    )
    assert response.status_code == 200, response.text
    assert _query(client, writer, metric="people", filter=flt)["total"] == 2


def _vk_writes_its_own_completion(
    client: TestClient, tokens: TokenFactory, make_code: Callable[[int], str]
) -> None:
    """VK's own LMS records C's INTEG-E completion (with its institution, as it must)."""
    vk_writer = tokens.headers("records:write", institutions=["VK"])
    item = {
        "personal_code": make_code(C),
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-04-10",
    }
    _post(client, vk_writer, "enrolments", [{**item, "source_system": "vk-lms"}])


def test_restricted_client_counts_only_its_institutions(
    client: TestClient, tokens: TokenFactory, dataset: Any
) -> None:
    vk = tokens.headers("records:read", institutions=["VK"])
    flt = {"statuses": ["completed"]}
    # The dataset's enrolments name no institution: only unrestricted clients count them, even
    # for people VK employs (an employment never opens other records to a restricted client).
    assert _query(client, vk, metric="people", filter=flt, group_by=["institution"])["total"] == 0
    _vk_writes_its_own_completion(client, tokens, dataset)
    result = _query(client, vk, metric="people", filter=flt, group_by=["institution"])
    assert _groups(result) == {"VK": 1}


def test_a_population_on_a_date_counts_people_where_they_are_employed_then(
    client: TestClient, tokens: TokenFactory, dataset: Any
) -> None:
    """A population on a date (a share's numerator): A learnt at VK, then moved to FM; asked as
    of the year's end A is one of FM's people who learnt, with FM's attributes (as FM's
    headcount counts A then); asked at the event, and by VK's own client, it stays VK's."""
    vk_writer = tokens.headers("records:write", institutions=["VK"])
    item = {
        "personal_code": dataset(A),
        "course_code": "LEAD-1",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-05-10",
    }
    _post(client, vk_writer, "enrolments", [{**item, "source_system": "vk-lms"}])
    flt = {"statuses": ["completed"], "courses": ["LEAD-1"], "sectors": ["state"]}
    at_event = _query(
        client,
        tokens.headers("records:read"),
        metric="people",
        filter=flt,
        group_by_sets=[["institution"], ["position_group"]],
    )
    assert {(g["set"], *g["key"].values()): g["value"] for g in at_event["groups"]} == {
        (0, "VK"): 1, (1, "procurement"): 1,
    }  # fmt: skip
    # As of the year's end but counted under the record's institution (the Annex 3 norms): VK's.
    kept = {**flt, "employment_as_of": "2024-12-31"}
    assert _query(client, tokens.headers("records:read"), metric="people", filter={**kept,
                  "institutions": ["FM"]})["total"] == 0  # fmt: skip
    undated = {**flt, "where_employed": True}
    answer = client.post("/v1/aggregations/query", json={"metric": "people", "filter": undated},
                         headers=tokens.headers("records:read"))  # fmt: skip
    assert answer.status_code == 422
    as_of = {**kept, "where_employed": True, "institutions": ["FM"]}
    population = _query(
        client,
        tokens.headers("records:read"),
        metric="people",
        filter=as_of,
        group_by_sets=[["institution"], ["position_group"], ["sector"]],
    )
    assert population["total"] == 1
    assert {(g["set"], *g["key"].values()): g["value"] for g in population["groups"]} == {
        (0, "FM"): 1, (1, "procurement"): 1, (2, "state"): 1,
    }  # fmt: skip
    # VK's own client: only VK's record, joined to VK's employment (none at the year's end).
    vk = tokens.headers("records:read", institutions=["VK"])
    own = _query(client, vk, metric="people", filter={**as_of, "institutions": None})
    assert own["total"] == 0  # no state employment of A at VK then
    own = _query(client, vk, metric="people", filter={"courses": ["LEAD-1"], "where_employed":
                 True, "employment_as_of": "2024-12-31"}, group_by=["institution"])  # fmt: skip
    assert _groups(own) == {"VK": 1}


def test_municipality_groups_are_what_the_municipalities_metric_counts(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    flt = {"statuses": ["completed", "registered"]}
    grouped = _query(client, writer, metric="people", filter=flt, group_by=["municipality"])
    assert _groups(grouped) == {"RIGA": 1, None: 3}  # B in Riga; A, C, D in the state sector
    counted = _query(client, writer, metric="municipalities", filter=flt)
    assert counted["total"] == len([g for g in grouped["groups"] if g["key"]["municipality"]])


def test_bad_queries_are_422(client: TestClient, writer: dict[str, str]) -> None:
    for body in (
        {"metric": "souls"},
        {"metric": "people", "group_by": ["colour"]},
        {"metric": "people", "filter": {"unknown": 1}},
    ):
        assert client.post("/v1/aggregations/query", json=body, headers=writer).status_code == 422


def test_headcounts_use_the_latest_report_on_or_before_the_date(
    client: TestClient, writer: dict[str, str], tokens: TokenFactory
) -> None:
    _post(
        client,
        writer,
        "headcounts",
        [
            {"institution": "VK", "sector": "state", "as_of": "2024-01-01", "headcount": 100},
            {"institution": "VK", "sector": "state", "as_of": "2024-12-01", "headcount": 120},
            {"institution": "FM", "sector": "state", "as_of": "2023-12-31", "headcount": 50},
            {
                "institution": "VK",
                "sector": "state",
                "position_group": "procurement",
                "as_of": "2024-01-01",
                "headcount": 10,
            },
            {
                "institution": "FM",
                "sector": "state",
                "position_group": "procurement",
                "as_of": "2024-01-01",
                "headcount": 7,
            },
            {
                "institution": "VK",
                "sector": "state",
                "role": "trust_person",
                "as_of": "2024-01-01",
                "headcount": 2,
            },
        ],
    )

    def ask(**body: Any) -> dict[str, Any]:
        response = client.post("/v1/aggregations/headcounts", json=body, headers=writer)
        assert response.status_code == 200, response.text
        return dict(response.json())

    mid = ask(as_of="2024-06-30", group_by=["institution"])
    assert _groups(mid) == {"FM": 50, "VK": 100} and mid["total"] == 150
    assert ask(as_of="2024-12-31")["total"] == 170
    assert ask(as_of="2022-01-01")["total"] == 0
    assert ask(as_of="2024-12-31", filter={"position_groups": ["procurement"]})["total"] == 17
    by_group = ask(as_of="2024-12-31", group_by=["position_group"])
    assert _groups(by_group) == {"procurement": 17}
    assert ask(as_of="2024-12-31", filter={"roles": ["trust_person"]})["total"] == 2
    vk_only = client.post(
        "/v1/aggregations/headcounts",
        json={"as_of": "2024-12-31"},
        headers=tokens.headers("records:read", institutions=["VK"]),
    ).json()
    assert vk_only["total"] == 120


def _by_set(result: dict[str, Any]) -> dict[int, dict[Any, Any]]:
    found: dict[int, dict[Any, Any]] = {}
    for group in result["groups"]:
        key = group["key"]
        label = tuple(key.values()) if len(key) != 1 else next(iter(key.values()))
        found.setdefault(group["set"], {})[label] = group["value"]
    return found


def test_group_by_sets_answer_every_grouping_with_its_set(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    result = _query(
        client,
        writer,
        metric="people",
        filter=COMPLETED_2024,
        group_by_sets=[["institution"], ["sector"], ["position_group"], ["sector", "year"], []],
    )
    assert _by_set(result) == {
        0: {"FM": 2, "RIGA-SOC": 1, "VK": 1},  # A counts under VK (March) and FM (September)
        1: {"municipal": 1, "state": 2},
        2: {"hr": 1, "procurement": 1, None: 1},
        3: {("municipal", 2024): 1, ("state", 2024): 2},
        4: {(): 3},
    }
    assert result["total"] == 3
    assert [g["set"] for g in result["groups"]] == sorted(g["set"] for g in result["groups"])


@pytest.mark.parametrize(
    "metric", ["people", "institutions", "municipalities", "enrolments", "hours"]
)
def test_group_by_sets_equal_one_question_per_grouping(
    client: TestClient, writer: dict[str, str], dataset: Any, metric: str
) -> None:
    sets = [["institution"], ["sector"], ["position_group", "year"], ["management_level"]]
    flt = {"period": {"from": "2023-01-01", "to": "2024-12-31"}}
    together = _query(client, writer, metric=metric, filter=flt, group_by_sets=sets)
    by_set = _by_set(together)
    for index, keys in enumerate(sets):
        alone = _query(client, writer, metric=metric, filter=flt, group_by=keys)
        assert by_set.get(index, {}) == _groups(alone), keys
        assert together["total"] == alone["total"]
    assert together["total"] == _query(client, writer, metric=metric, filter=flt)["total"]


def test_group_by_sets_with_frequency_count_per_year(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    result = _query(
        client,
        writer,
        metric="people_with_frequency",
        filter={"statuses": ["completed"]},
        frequency={"min_per_year": 1, "max_per_year": 1},
        group_by_sets=[["institution"], ["year"]],
    )
    # Years: 2023 D once; 2024 B and D once each (A twice, so not within the bounds). A
    # person's enrolments of the year count together whatever the group: A learnt once at VK
    # and once at FM in 2024, twice in the year, so A is in no institution's group either.
    assert _by_set(result) == {
        0: {("FM", 2023): 1, ("FM", 2024): 1, ("RIGA-SOC", 2024): 1},
        1: {2023: 1, 2024: 2},
    }
    assert result["total"] == 2


def test_group_by_sets_of_a_restricted_client_hold_only_its_institutions(
    client: TestClient, tokens: TokenFactory, dataset: Any
) -> None:
    vk = tokens.headers("records:read", institutions=["VK"])
    _vk_writes_its_own_completion(client, tokens, dataset)
    result = _query(
        client,
        vk,
        metric="people",
        filter={"statuses": ["completed"]},
        group_by_sets=[["institution"], ["sector"]],
    )
    assert _by_set(result) == {0: {"VK": 1}, 1: {"state": 1}}
    assert result["total"] == 1


def test_bad_group_by_sets_are_422_and_plain_group_by_has_no_set(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    for body in (
        {"metric": "people", "group_by": ["sector"], "group_by_sets": [["sector"]]},
        {"metric": "people", "group_by_sets": [["sector"], ["sector"]]},
        {"metric": "people", "group_by_sets": [["sector", "sector"]]},
        {"metric": "people", "group_by_sets": [["colour"]]},
        {"metric": "people", "group_by_sets": [["sector"]] * 17},
    ):
        response = client.post("/v1/aggregations/query", json=body, headers=writer)
        assert response.status_code == 422, body
    plain = _query(client, writer, metric="people", filter=COMPLETED_2024, group_by=["sector"])
    assert {g["set"] for g in plain["groups"]} == {None}


def test_members_list_who_a_question_counts(
    client: TestClient, writer: dict[str, str], tokens: TokenFactory, dataset: Any
) -> None:
    flt = {**COMPLETED_2024, "courses": ["INTEG-E"]}
    response = client.post(
        "/v1/aggregations/members", json={"metric": "people", "filter": flt}, headers=writer
    )
    assert response.status_code == 200, response.text
    members = response.json()["members"]
    assert sorted(m["institution"] for m in members) == ["FM", "RIGA-SOC", "VK"]
    assert all(m["person"] and len(m["person"]) > 20 for m in members)
    assert len({m["person"] for m in members}) == 3
    places = client.post(
        "/v1/aggregations/members", json={"metric": "municipalities", "filter": flt}, headers=writer
    ).json()
    assert places["members"] == [{"person": None, "institution": "RIGA-SOC"}]
    _vk_writes_its_own_completion(client, tokens, dataset)
    vk = client.post(
        "/v1/aggregations/members",
        json={"metric": "people", "filter": flt},
        headers=tokens.headers("records:read", institutions=["VK"]),
    ).json()
    assert [m["institution"] for m in vk["members"]] == ["VK"]
    anonymous = client.post("/v1/aggregations/members", json={"metric": "people"})
    assert anonymous.status_code == 401


def test_headcount_sets_read_each_grouping_from_its_own_series(
    client: TestClient, writer: dict[str, str]
) -> None:
    _post(
        client,
        writer,
        "headcounts",
        [
            {"institution": "VK", "sector": "state", "as_of": "2024-01-01", "headcount": 100},
            {"institution": "FM", "sector": "state", "as_of": "2024-01-01", "headcount": 50},
            {"institution": "RIGA", "sector": "municipal", "as_of": "2024-01-01", "headcount": 30},
            {
                "institution": "VK",
                "sector": "state",
                "position_group": "procurement",
                "as_of": "2024-01-01",
                "headcount": 10,
            },
            {
                "institution": "FM",
                "sector": "state",
                "position_group": "it",
                "as_of": "2024-01-01",
                "headcount": 7,
            },
        ],
    )
    body = {
        "as_of": "2024-12-31",
        "group_by_sets": [["institution"], ["sector"], ["position_group"], []],
    }
    response = client.post("/v1/aggregations/headcounts", json=body, headers=writer)
    assert response.status_code == 200, response.text
    result = response.json()
    assert _by_set(result) == {
        0: {"FM": 50, "RIGA": 30, "VK": 100},
        1: {"municipal": 30, "state": 150},
        2: {"it": 7, "procurement": 10},
        3: {(): 180},
    }
    assert result["total"] == 180
    state = client.post(
        "/v1/aggregations/headcounts",
        json={**body, "filter": {"sectors": ["state"]}},
        headers=writer,
    ).json()
    assert _by_set(state)[0] == {"FM": 50, "VK": 100} and state["total"] == 150


def test_all_course_tags_whole_programmes_and_tests_passed_by_the_periods_end(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    c = {"personal_code": dataset(C)}
    _post(
        client,
        writer,
        "enrolments",
        [
            {
                **c,
                "external_id": "prog-1",
                "course_code": "MOD-1",
                "status": "completed",
                "completed_on": "2024-02-01",
            },
            {
                **c,
                "external_id": "prog-2",
                "course_code": "MOD-2",
                "status": "attended",
                "status_date": "2024-03-01",
            },
        ],
    )
    _post(
        client,
        writer,
        "results",
        [
            {
                **c,
                "external_id": "prog-t",
                "course_code": "MOD-1",
                "attempted_on": "2024-08-01",
                "passed": True,
            }
        ],
    )
    _post(
        client,
        writer,
        "course-tags",
        [
            {"external_id": "prog-t1", "course_code": "MOD-1", "tag": "measure:1.1"},
            {"external_id": "prog-t2", "course_code": "MOD-1", "tag": "specialised"},
            {"external_id": "prog-t3", "course_code": "MOD-1", "tag": "programme:P"},
            {"external_id": "prog-t4", "course_code": "MOD-2", "tag": "programme:P"},
        ],
    )
    year = {"period": {"from": "2024-01-01", "to": "2024-12-31"}}
    every = {**year, "course_tags": ["measure:1.1"], "statuses": ["completed", "registered"]}
    assert _query(client, writer, metric="people", filter=every)["total"] == 4
    specialised = {**every, "course_tags_all": ["measure:1.1", "specialised"]}
    assert _query(client, writer, metric="people", filter=specialised)["total"] == 1
    # The test on MOD-1 was passed on 1 August: not yet by the end of June.
    passed = {"courses": ["MOD-1"], "test_passed": True}
    june = {"period": {"from": "2024-01-01", "to": "2024-06-30"}}
    assert _query(client, writer, metric="people", filter={**passed, **june})["total"] == 0
    assert _query(client, writer, metric="people", filter={**passed, **year})["total"] == 1
    # Every course of programme P completed: MOD-2 is only attended so far.
    whole = {**year, "statuses": ["completed"], "all_courses_of": "programme:P"}
    assert _query(client, writer, metric="people", filter=whole)["total"] == 0
    _post(
        client,
        writer,
        "enrolments",
        [
            {
                **c,
                "external_id": "prog-2",
                "update": True,
                "course_code": "MOD-2",
                "status": "completed",
                "completed_on": "2024-09-01",
            }
        ],
    )
    assert _query(client, writer, metric="people", filter=whole)["total"] == 1
    by_august = {**whole, "period": {"from": "2024-01-01", "to": "2024-08-31"}}
    assert _query(client, writer, metric="people", filter=by_august)["total"] == 0
    no_such = {**whole, "all_courses_of": "programme:NONE"}
    assert _query(client, writer, metric="people", filter=no_such)["total"] == 0


def test_sessions_are_counted_once_however_many_enrolments(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    a, b = {"personal_code": dataset(A)}, {"personal_code": dataset(B)}
    _post(
        client,
        writer,
        "enrolments",
        [
            {**a, "external_id": "s-1", "course_code": "SPRINT", "session_code": "S1",
             "status": "attended", "status_date": "2024-03-01"},
            {**b, "external_id": "s-2", "course_code": "SPRINT", "session_code": "S1",
             "status": "attended", "status_date": "2024-03-01"},
            {**b, "external_id": "s-3", "course_code": "SPRINT", "session_code": "S2",
             "status": "no_show", "status_date": "2024-05-01"},
            {**a, "external_id": "s-4", "course_code": "SPRINT", "status": "attended",
             "status_date": "2024-06-01"},
        ],
    )  # fmt: skip
    flt = {"courses": ["SPRINT"], "statuses": ["attended"]}
    answer = _query(client, writer, metric="sessions", filter=flt, group_by=["sector"])
    assert answer["total"] == 1  # S1 once; S2 had only a no-show; the last has no session
    assert _groups(answer) == {"state": 1, "municipal": 1}
    every = _query(client, writer, metric="sessions", filter={"courses": ["SPRINT"]})
    assert every["total"] == 2


def test_people_assessed_against_a_framework(
    client: TestClient, writer: dict[str, str], dataset: Any
) -> None:
    a, b, c = ({"personal_code": dataset(n)} for n in (A, B, C))
    base = {"competency": "C1", "level": 3}
    _post(
        client,
        writer,
        "assessments",
        [
            {**c, **base, "external_id": "as-1", "framework": "LEAD-TOP-FW", "method": "360",
             "assessed_on": "2024-02-01"},
            {**c, **base, "external_id": "as-2", "framework": "LEAD-TOP-FW", "method": "360",
             "assessed_on": "2024-02-01", "competency": "C2"},
            {**a, **base, "external_id": "as-3", "framework": "DIGCOMP-2.2", "method": "self",
             "assessed_on": "2024-09-01"},
            {**b, **base, "external_id": "as-4", "framework": "LEAD-TOP-FW", "method": "manager",
             "assessed_on": "2025-02-01"},
        ],
    )  # fmt: skip
    year = {"period": {"from": "2024-01-01", "to": "2024-12-31"}}
    every = _query(client, writer, metric="assessed_people", filter=year, group_by=["institution"])
    assert every["total"] == 2  # C (two competencies, one person) and A; B's is in 2025
    assert _groups(every) == {"VK": 1, "FM": 1}  # A works at FM since July
    by_others = {**year, "methods": ["manager", "360", "assessment_centre"]}
    assert _query(client, writer, metric="assessed_people", filter=by_others)["total"] == 1
    top = {**year, "management_levels": ["top"], "frameworks": ["LEAD-TOP-FW"]}
    assert _query(client, writer, metric="assessed_people", filter=top)["total"] == 1
    wrong = client.post(
        "/v1/aggregations/query",
        json={"metric": "assessed_people", "filter": {"statuses": ["completed"]}},
        headers=writer,
    )
    assert wrong.status_code == 422
    assert (
        client.post(
            "/v1/aggregations/query",
            json={"metric": "people", "filter": {"methods": ["self"]}},
            headers=writer,
        ).status_code
        == 422
    )


def test_a_batch_answers_like_its_questions_asked_one_by_one(
    client: TestClient, writer: dict[str, str], tokens: TokenFactory, dataset: Any
) -> None:
    _vk_writes_its_own_completion(client, tokens, dataset)
    _post(
        client,
        writer,
        "headcounts",
        [
            {"institution": "VK", "sector": "state", "as_of": "2023-01-01", "headcount": 90},
            {"institution": "VK", "sector": "state", "as_of": "2024-01-01", "headcount": 100},
            {"institution": "FM", "sector": "state", "as_of": "2023-12-31", "headcount": 50},
        ],
    )
    aggregations = [
        {"metric": "people", "filter": {"statuses": ["completed"]}, "group_by": ["institution"]},
        {"metric": "hours", "group_by_sets": [["institution"], ["year"], []]},
        {"metric": "people_with_frequency", "frequency": {"min_per_year": 1}},
    ]
    days = ["2022-12-31", "2023-06-30", "2023-12-31", "2024-12-31"]
    headcounts = [{"as_of": d, "group_by_sets": [["institution"], []]} for d in days]
    headcounts.append({"as_of": "2024-12-31", "filter": {"institutions": ["FM"]}})
    for headers in (writer, tokens.headers("records:read", institutions=["VK"])):
        answer = client.post(
            "/v1/aggregations/batch",
            json={"aggregations": aggregations, "headcounts": headcounts},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        singly = [
            client.post("/v1/aggregations/query", json=q, headers=headers).json()
            for q in aggregations
        ] + [
            client.post("/v1/aggregations/headcounts", json=q, headers=headers).json()
            for q in headcounts
        ]
        assert found["aggregations"] + found["headcounts"] == singly
        assert {r["cutoff_seq"] for r in singly} == {found["cutoff_seq"]}
    everyone = client.post(
        "/v1/aggregations/batch", json={"headcounts": headcounts}, headers=writer
    ).json()["headcounts"]
    assert [r["total"] for r in everyone] == [0, 90, 140, 150, 50]
    only_vk = client.post(
        "/v1/aggregations/batch",
        json={"headcounts": headcounts},
        headers=tokens.headers("records:read", institutions=["VK"]),
    ).json()["headcounts"]
    assert [r["total"] for r in only_vk] == [0, 90, 90, 100, 0]  # nothing of FM's


def _registry(engine: Engine, **parents: str | None) -> None:
    """The catalog copy's institutions (their resorts come from it), replacing any."""
    with session_scope(engine) as session:
        session.execute(delete(CatalogEntry).where(col(CatalogEntry.entity) == "institution"))
        for n, (code, parent) in enumerate(parents.items()):
            session.add(
                CatalogEntry(
                    entity="institution",
                    code=code,
                    version=1,
                    change_id=1000 + n,
                    data={"parent": parent, "kind": "ministry" if parent is None else "other"},
                    synced_at=datetime.now(UTC),
                )
            )


def test_a_batch_counts_metrics_of_one_filter_in_one_statement_as_asked_alone(
    client: TestClient, writer: dict[str, str], engine: Engine, dataset: Any
) -> None:
    # VK is placed under FM: A, who moved VK -> FM, is one person of FM's resort.
    _registry(engine, FM=None, VK="FM")
    try:
        sets = [["institution"], ["resort"], ["sector", "year"], ["institution", "year"]]
        metrics = ["people", "institutions", "municipalities", "enrolments", "sessions"]
        aggregations: list[dict[str, Any]] = [
            {"metric": m, "filter": COMPLETED_2024, "group_by_sets": sets} for m in metrics
        ]
        aggregations.append({"metric": "people", "filter": COMPLETED_2024, "group_by": ["sector"]})
        aggregations.append({"metric": "people", "group_by_sets": sets})  # another filter
        answer = client.post(
            "/v1/aggregations/batch", json={"aggregations": aggregations}, headers=writer
        )
        assert answer.status_code == 200, answer.text
        singly = [
            client.post("/v1/aggregations/query", json=q, headers=writer).json()
            for q in aggregations
        ]
        assert answer.json()["aggregations"] == singly
        people = _by_set(singly[0])
        assert people[0] == {"FM": 2, "RIGA-SOC": 1, "VK": 1}
        assert people[1] == {"FM": 2, None: 1}  # A once, not once per institution
        # Every set as if asked as the only grouping (no resort key beside the institution).
        for metric, together in zip(metrics, singly, strict=False):
            by_set = _by_set(together)
            for index, keys in enumerate(sets):
                alone = _query(client, writer, metric=metric, filter=COMPLETED_2024, group_by=keys)
                assert by_set.get(index, {}) == _groups(alone), (metric, keys)
                assert {tuple(g["key"]) for g in together["groups"] if g["set"] == index} <= {
                    tuple(keys)
                }
    finally:
        _registry(engine)


def test_a_bad_batch_is_422(client: TestClient, writer: dict[str, str]) -> None:
    for body in (
        {"aggregations": [{"metric": "souls"}]},
        {"headcounts": [{"as_of": "2024-12-31"}] * 65},
        {"questions": []},
    ):
        assert client.post("/v1/aggregations/batch", json=body, headers=writer).status_code == 422
