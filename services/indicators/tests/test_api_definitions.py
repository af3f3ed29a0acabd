"""Definitions over HTTP: create, versions with ETag / If-Match, retire; old versions reproducible."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from indicators.sources.memory import Employment, Enrolment, MemoryCatalog, MemoryRecords
from indicators.sources.types import IndicatorInfo, Target
from pilnveide_kit.testing import TokenFactory

SPEC = {"kind": "distinct_people", "filter": {"courses": ["INTEG-E"]}}


def _create(
    client: TestClient, tokens: TokenFactory, code: str = "1.1.1", spec: dict | None = None
) -> TestClient:
    answer = client.post(
        "/v1/definitions",
        json={"code": code, "spec": spec or SPEC},
        headers=tokens.headers("indicators:write", client_id="vk-admin"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["etag"] == f'"{code}@1"'
    return client


def test_create_read_and_conflict(client: TestClient, tokens: TokenFactory) -> None:
    _create(client, tokens)
    body = client.get("/v1/definitions/1.1.1", headers=tokens.headers("indicators:read")).json()
    assert (body["version"], body["kind"], body["created_by"]) == (1, "distinct_people", "vk-admin")
    assert body["spec"]["filter"]["courses"] == ["INTEG-E"]
    again = client.post(
        "/v1/definitions",
        json={"code": "1.1.1", "spec": SPEC},
        headers=tokens.headers("indicators:write"),
    )
    assert again.status_code == 409
    assert (
        client.post(
            "/v1/definitions",
            json={"code": "1.1.2", "spec": SPEC},
            headers=tokens.headers("indicators:read"),
        ).status_code
        == 403
    )


def test_a_definition_without_a_status_rule_counts_the_learned_statuses(
    client: TestClient, tokens: TokenFactory, records: MemoryRecords
) -> None:
    _create(client, tokens)
    reader = tokens.headers("indicators:read")
    body = client.get("/v1/definitions/1.1.1", headers=reader).json()
    assert body["spec"]["counts"] == "learned"
    records.employments = [
        Employment(person=p, institution="VK", valid_from=date(2020, 1, 1)) for p in "abc"
    ]
    records.enrolments = [
        Enrolment(person="a", course="INTEG-E", status="registered", status_date=date(2024, 1, 5)),
        Enrolment(person="b", course="INTEG-E", status="no_show", status_date=date(2024, 1, 5)),
        Enrolment(person="c", course="INTEG-E", status="attended", status_date=date(2024, 1, 5)),
    ]
    result = client.get("/v1/indicators/1.1.1?as_of=2024-12-31", headers=reader).json()
    assert result["value"] == 1


def test_invalid_definitions_are_rejected_and_change_nothing(
    client: TestClient, tokens: TokenFactory
) -> None:
    writer = tokens.headers("indicators:write")
    for spec in [
        {"kind": "share"},
        {"kind": "people_with_frequency"},
        {"kind": "coverage_per_institution"},
        {"kind": "distinct_people", "filter": {"colour": ["red"]}},
        {"kind": "share", "denominator": {"source": "manual", "value": 10}},
        {"kind": "nonsense"},
    ]:
        answer = client.post(
            "/v1/definitions", json={"code": "9.9.9", "spec": spec}, headers=writer
        )
        assert answer.status_code == 422, spec
    assert (
        client.get("/v1/definitions/9.9.9", headers=tokens.headers("indicators:read")).status_code
        == 404
    )


def test_replacing_needs_if_match_and_keeps_every_version(
    client: TestClient, tokens: TokenFactory
) -> None:
    _create(client, tokens)
    writer = tokens.headers("indicators:write")
    new = {
        "spec": {**SPEC, "filter": {"courses": ["INTEG-E", "INTEG-K"]}},
        "note": "K course counts too",
    }
    assert client.put("/v1/definitions/1.1.1", json=new, headers=writer).status_code == 428
    stale = client.put(
        "/v1/definitions/1.1.1", json=new, headers={**writer, "If-Match": '"1.1.1@7"'}
    )
    assert stale.status_code == 412 and stale.json()["current_etag"] == '"1.1.1@1"'
    replaced = client.put(
        "/v1/definitions/1.1.1", json=new, headers={**writer, "If-Match": '"1.1.1@1"'}
    )
    assert replaced.status_code == 200 and replaced.headers["etag"] == '"1.1.1@2"'
    versions = client.get(
        "/v1/definitions/1.1.1/versions", headers=tokens.headers("indicators:read")
    ).json()
    assert versions["count"] == 2
    versions = versions["data"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["spec"]["filter"]["courses"] == ["INTEG-E"]
    old = client.get("/v1/definitions/1.1.1?version=1", headers=tokens.headers("indicators:read"))
    assert old.json()["version"] == 1 and old.headers["etag"] == '"1.1.1@1"'


def test_a_changed_definition_keeps_old_results_reproducible(
    client: TestClient, tokens: TokenFactory, records: MemoryRecords, catalog: MemoryCatalog
) -> None:
    catalog.indicator_rows = [
        IndicatorInfo(
            code="1.1.1",
            measure="1.1",
            priority="1",
            deadline_year=2026,
            target=Target(kind="min_count", value=3),
        )
    ]
    records.employments = [
        Employment(person=p, institution="VK", valid_from=date(2020, 1, 1)) for p in ("a", "b", "c")
    ]
    records.enrolments = [
        Enrolment(person="a", course="INTEG-E", status="completed", status_date=date(2022, 1, 5)),
        Enrolment(person="b", course="INTEG-K", status="completed", status_date=date(2022, 1, 5)),
        Enrolment(person="c", course="INTEG-K", status="completed", status_date=date(2022, 1, 5)),
    ]
    _create(client, tokens)
    reader = tokens.headers("indicators:read")
    v1 = client.get("/v1/indicators/1.1.1?as_of=2023-01-01", headers=reader).json()
    assert (v1["value"], v1["definition_version"], v1["status"]) == (1, 1, "at_risk")
    writer = {**tokens.headers("indicators:write"), "If-Match": '"1.1.1@1"'}
    client.put(
        "/v1/definitions/1.1.1",
        json={"spec": {**SPEC, "filter": {"courses": ["INTEG-E", "INTEG-K"]}}},
        headers=writer,
    )
    v2 = client.get("/v1/indicators/1.1.1?as_of=2023-01-01", headers=reader).json()
    assert (v2["value"], v2["definition_version"], v2["status"]) == (3, 2, "achieved")
    again = client.get("/v1/indicators/1.1.1?as_of=2023-01-01&version=1", headers=reader).json()
    assert {k: again[k] for k in ("value", "definition_version", "cutoff_seq", "status")} == {
        k: v1[k] for k in ("value", "definition_version", "cutoff_seq", "status")
    }


def test_retiring_stops_current_results_but_keeps_versions(
    client: TestClient, tokens: TokenFactory, records: MemoryRecords
) -> None:
    _create(client, tokens)
    writer = tokens.headers("indicators:write")
    assert client.delete("/v1/definitions/1.1.1", headers=writer).status_code == 428
    retired = client.delete("/v1/definitions/1.1.1", headers={**writer, "If-Match": '"1.1.1@1"'})
    assert retired.status_code == 200 and retired.json()["retired"] is True
    reader = tokens.headers("indicators:read")
    assert client.get("/v1/definitions/1.1.1", headers=reader).status_code == 404
    assert client.get("/v1/indicators/1.1.1", headers=reader).status_code == 404
    assert client.get("/v1/indicators/1.1.1?version=1", headers=reader).status_code == 200
    assert client.get("/v1/definitions", headers=reader).json()["data"] == []


def test_list_is_in_indicator_order_and_paginated(client: TestClient, tokens: TokenFactory) -> None:
    for code in ("1.10.1", "1.2.1", "2.1.1"):
        _create(client, tokens, code)
    reader = tokens.headers("indicators:read")
    first = client.get("/v1/definitions?limit=2", headers=reader).json()
    assert [d["code"] for d in first["data"]] == ["1.2.1", "1.10.1"]
    rest = client.get(
        f"/v1/definitions?limit=2&cursor={first['next_cursor']}", headers=reader
    ).json()
    assert [d["code"] for d in rest["data"]] == ["2.1.1"] and rest["next_cursor"] is None


def test_a_restricted_client_changes_no_definition_or_observation(
    client: TestClient, tokens: TokenFactory
) -> None:
    """Definitions and observations count for every institution: a client restricted to some
    institutions is refused (403, the same with admin), and nothing is stored."""
    _create(client, tokens)
    reader = tokens.headers("indicators:read")
    etag = client.get("/v1/definitions/1.1.1", headers=reader).headers["etag"]
    for scope in ("indicators:write", "admin"):
        restricted = tokens.headers(scope, institutions=["FM"], client_id="fm-hr")
        attempts = [
            ("POST", "/v1/definitions", {"code": "1.1.2", "spec": SPEC}, {}),
            ("PUT", "/v1/definitions/1.1.1", {"spec": SPEC, "note": "FM's"}, {"If-Match": etag}),
            ("DELETE", "/v1/definitions/1.1.1", None, {"If-Match": etag}),
            (
                "POST",
                "/v1/indicators/1.1.1/observations",
                {"value": 1, "observed_on": "2024-12-31", "source": "FM"},
                {},
            ),
        ]
        for method, path, body, extra in attempts:
            answer = client.request(method, path, json=body, headers={**restricted, **extra})
            assert answer.status_code == 403, (scope, method, path, answer.text)
            assert answer.json()["type"].endswith("/global-data")
    versions = client.get("/v1/definitions/1.1.1/versions", headers=reader).json()["data"]
    assert [v["version"] for v in versions] == [1]
    assert client.get("/v1/definitions/1.1.2", headers=reader).status_code == 404
    observed = client.get("/v1/indicators/1.1.1/observations", headers=reader).json()
    assert observed["data"] == []
