"""Bulk and single writes over HTTP: per-item outcomes, replays, conflicts, all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory

Make = Callable[..., dict[str, Any]]


def _bulk(
    client: TestClient, headers: dict[str, str], kind: str, items: list[Any], **params: str
) -> Any:
    return client.post(f"/v1/{kind}/bulk", json=items, headers=headers, params=params)


def _head(client: TestClient, headers: dict[str, str]) -> int:
    return int(client.get("/v1/changes/head", headers=headers).json()["last_seq"])


def test_mixed_batch_stores_valid_items_and_reports_each_invalid_one(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [
        make_enrolment(1),
        make_enrolment(2, personal_code="010190-12345"),  # wrong check digit
        make_enrolment(3, status="finished"),
        "not an object",
        make_enrolment(4, hours=-1),
        make_enrolment(5),
    ]
    response = _bulk(client, writer, "enrolments", items)
    assert response.status_code == 200, response.text
    report = response.json()
    statuses = [(o["index"], o["status"]) for o in report["items"]]
    assert statuses == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "accepted"),
    ]
    reasons = {o["index"]: o["reason"] for o in report["items"]}
    assert reasons[1].startswith("personal_code:") and "check digit" in reasons[1]
    assert "status" in reasons[2]
    assert "hours" in reasons[4]
    assert "010190-12345" not in response.text
    assert report["counts"] == {"accepted": 2, "unchanged": 0, "rejected": 4, "conflict": 0}
    listed = client.get("/v1/enrolments", headers=writer).json()["data"]
    assert sorted(e["external_id"] for e in listed) == ["enr-1", "enr-5"]


def test_replayed_batch_changes_nothing_and_conflicts_are_per_item(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [make_enrolment(n) for n in range(5)]
    first = _bulk(client, writer, "enrolments", items).json()
    head = _head(client, writer)
    replay = _bulk(client, writer, "enrolments", items).json()
    assert [o["status"] for o in replay["items"]] == ["unchanged"] * 5
    assert [o["id"] for o in replay["items"]] == [o["id"] for o in first["items"]]
    assert _head(client, writer) == head
    changed = [
        make_enrolment(0, hours=9),
        make_enrolment(1),
        make_enrolment(2, hours=9, update=True),
    ]
    result = _bulk(client, writer, "enrolments", changed).json()
    assert [o["status"] for o in result["items"]] == ["conflict", "unchanged", "accepted"]
    assert "update" in result["items"][0]["reason"]
    assert _head(client, writer) == head + 1
    hours = {
        e["external_id"]: e["hours"]
        for e in client.get("/v1/enrolments", headers=writer).json()["data"]
    }
    assert hours["enr-0"] == 8 and hours["enr-2"] == 9


def test_duplicate_source_ids_within_one_batch(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [make_enrolment(1), make_enrolment(1), make_enrolment(1, hours=2)]
    result = _bulk(client, writer, "enrolments", items).json()
    assert [o["status"] for o in result["items"]] == ["accepted", "unchanged", "conflict"]


def test_all_or_nothing_stores_none_on_one_bad_item(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    head = _head(client, writer)
    items = [make_enrolment(1), make_enrolment(2, course_code=""), make_enrolment(3)]
    response = _bulk(client, writer, "enrolments", items, mode="all_or_nothing")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [o["index"] for o in response.json()["items"]] == [1]
    assert client.get("/v1/enrolments", headers=writer).json()["data"] == []
    assert _head(client, writer) == head
    _bulk(client, writer, "enrolments", [make_enrolment(1)])
    conflicting = [make_enrolment(1, hours=1), make_enrolment(9)]
    response = _bulk(client, writer, "enrolments", conflicting, mode="all_or_nothing")
    assert response.status_code == 409
    assert [
        e["external_id"] for e in client.get("/v1/enrolments", headers=writer).json()["data"]
    ] == ["enr-1"]
    ok = _bulk(
        client, writer, "enrolments", [make_enrolment(2), make_enrolment(3)], mode="all_or_nothing"
    )
    assert ok.status_code == 200 and ok.json()["counts"]["accepted"] == 2


def test_ndjson_and_csv_bodies(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> None:
    lines = [
        json.dumps(
            {
                "source_system": "mps",
                "external_id": "a",
                "personal_code": make_code(1),
                "course_code": "DIG-1",
                "status": "registered",
                "enrolled_on": "2024-01-10",
            }
        ),
        "{not json",
        "",
        json.dumps(
            {
                "source_system": "mps",
                "external_id": "b",
                "personal_code": make_code(2),
                "course_code": "DIG-1",
                "status": "no_show",
                "status_date": "2024-01-11",
            }
        ),
    ]
    response = client.post(
        "/v1/enrolments/bulk",
        content="\n".join(lines).encode(),
        headers={**writer, "Content-Type": "application/x-ndjson"},
    )
    assert [o["status"] for o in response.json()["items"]] == ["accepted", "rejected", "accepted"]
    assert response.json()["items"][1]["reason"] == "line 2 is not valid JSON"
    csv_body = (
        "source_system;external_id;personal_code;institution;sector;position_group;management_level;"
        "civil_servant;valid_from;valid_to;roles\n"
        f"horizon;e1;{make_code(1)};VK;state;procurement;none;true;2020-01-01;;trust_person|internal_trainer\n"
        f"horizon;e2;{make_code(2)};VK;state;;middle;no;2020-01-01;2019-01-01;\n"
    )
    response = client.post(
        "/v1/employment/bulk",
        content=csv_body.encode(),
        headers={**writer, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    outcomes = response.json()["items"]
    assert [o["status"] for o in outcomes] == ["accepted", "rejected"]
    assert "valid_to" in outcomes[1]["reason"]
    unsupported = client.post(
        "/v1/enrolments/bulk", content=b"x", headers={**writer, "Content-Type": "text/plain"}
    )
    assert unsupported.status_code == 415


def test_a_csv_body_the_csv_module_cannot_read_is_a_400_and_writes_nothing(
    client: TestClient, writer: dict[str, str]
) -> None:
    # A field past the csv module's size limit raised csv.Error: the bulk route answered 500.
    body = b"source_system,external_id,personal_code\nhr,e1," + b"x" * 200_000 + b"\n"
    response = client.post(
        "/v1/employment/bulk", content=body, headers={**writer, "Content-Type": "text/csv"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "CSV line" in response.json()["detail"]
    listed = client.get("/v1/changes", headers=writer)
    assert listed.status_code == 200 and listed.json()["data"] == []


def test_idempotency_key_replays_the_stored_response(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    headers = {**writer, "Idempotency-Key": "batch-1"}
    first = client.post("/v1/enrolments/bulk", json=[make_enrolment(1)], headers=headers)
    again = client.post("/v1/enrolments/bulk", json=[make_enrolment(1)], headers=headers)
    assert first.json() == again.json()
    assert again.json()["items"][0]["status"] == "accepted"
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/enrolments/bulk", json=[make_enrolment(2)], headers=headers)
    assert other.status_code == 422
    assert len(client.get("/v1/enrolments", headers=writer).json()["data"]) == 1


def test_single_writes(client: TestClient, writer: dict[str, str], make_enrolment: Make) -> None:
    created = client.post("/v1/enrolments", json=make_enrolment(1), headers=writer)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "accepted"
    same = client.post("/v1/enrolments", json=make_enrolment(1), headers=writer)
    assert same.status_code == 200 and same.json()["status"] == "unchanged"
    conflict = client.post("/v1/enrolments", json=make_enrolment(1, hours=3), headers=writer)
    assert conflict.status_code == 409
    bad_code = client.post(
        "/v1/enrolments", json=make_enrolment(2, personal_code="321"), headers=writer
    )
    assert bad_code.status_code == 422
    assert "321" not in bad_code.json()["detail"]
    missing = client.post("/v1/enrolments", json={"source_system": "x"}, headers=writer)
    assert missing.status_code == 422


def test_restricted_writer_cannot_write_for_other_institutions(
    client: TestClient, tokens: TokenFactory, make_enrolment: Make
) -> None:
    fm = tokens.headers("records:write records:read", institutions=["FM"])
    items = [
        make_enrolment(1, institution="FM"),
        make_enrolment(2),
        make_enrolment(3, institution=None),
    ]
    result = _bulk(client, fm, "enrolments", items).json()
    assert [o["status"] for o in result["items"]] == ["accepted", "rejected", "rejected"]
    single = client.post("/v1/enrolments", json=make_enrolment(4), headers=fm)
    assert single.status_code == 404
    reader = tokens.headers("records:read")
    assert client.post("/v1/enrolments", json=make_enrolment(5), headers=reader).status_code == 403


def test_every_kind_accepts_its_items(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> None:
    person = {"personal_code": make_code(7)}
    writes = {
        "people": {**person, "display_name": "Anna Bērziņa"},
        "employment": {
            **person,
            "institution": "VK",
            "sector": "state",
            "valid_from": "2020-01-01",
            "roles": [{"role": "digital_agent", "valid_from": "2023-01-01"}],
        },
        "headcounts": {
            "institution": "VK",
            "sector": "state",
            "as_of": "2024-12-31",
            "headcount": 250,
        },
        "enrolments": {
            **person,
            "course_code": "C1",
            "status": "registered",
            "enrolled_on": "2024-02-01",
        },
        "results": {
            **person,
            "course_code": "C1",
            "attempted_on": "2024-02-02",
            "score": 70,
            "passed": True,
        },
        "certificates": {
            **person,
            "course_code": "C1",
            "issued_on": "2024-02-03",
            "valid_until": "2026-02-03",
        },
        "feedback": {
            **person,
            "course_code": "C1",
            "kind": "follow_up",
            "submitted_on": "2024-09-01",
            "applied_at_work": True,
            "applied_share": 40,
        },
        "assessments": {
            **person,
            "framework": "top-managers",
            "competency": "teamwork",
            "level": 4,
            "method": "360",
            "assessed_on": "2024-05-05",
        },
    }
    for kind, item in writes.items():
        body = {"source_system": "test", "external_id": f"{kind}-1", **item}
        response = client.post(f"/v1/{kind}", json=body, headers=writer)
        assert response.status_code == 201, (kind, response.text)
    by_link = {
        "source_system": "test",
        "external_id": "enr-by-link",
        "person_source_system": "test",
        "person_external_id": "people-1",
        "course_code": "C2",
        "status": "registered",
        "enrolled_on": "2024-03-01",
    }
    assert client.post("/v1/enrolments", json=by_link, headers=writer).status_code == 201
    unknown = {**by_link, "external_id": "enr-unknown", "person_external_id": "nobody"}
    response = client.post("/v1/enrolments", json=unknown, headers=writer)
    assert response.status_code == 422 and "no person" in response.json()["detail"]


def test_ten_thousand_items_in_one_call(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [make_enrolment(n) for n in range(10_000)]
    response = _bulk(client, writer, "enrolments", items, report="problems")
    assert response.status_code == 200
    assert response.json()["counts"]["accepted"] == 10_000
    assert response.json()["items"] == []
    assert _head(client, writer) == 20_000  # each new person and each enrolment is one change
