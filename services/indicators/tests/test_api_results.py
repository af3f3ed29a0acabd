"""Results over HTTP: breakdowns, CSV, the cache and the change feed, scoping, progress, explain."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indicators.sources.memory import Employment, Enrolment, Headcount, MemoryCatalog, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target
from pilnveide_kit.testing import TokenFactory, eventually

PLAN = "LAP-2021-2027"
READ = "indicators:read"
WRITE = "indicators:write"


def _plan(catalog: MemoryCatalog, records: MemoryRecords) -> None:
    catalog.institution_rows = [
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(code="VID", name="VID", sector="state", kind="subordinate", resort="FM"),
        InstitutionInfo(code="TM", name="Tieslietu ministrija", sector="state", kind="ministry"),
    ]
    records.institutions = list(catalog.institution_rows)  # records' copy of the catalog
    catalog.indicator_rows = [
        IndicatorInfo(
            code="1.5.1",
            title="Procurement",
            priority="1",
            measure="1.5",
            deadline_year=2023,
            target=Target(kind="min_share", value=80),
        ),
        IndicatorInfo(
            code="1.5.2",
            title="Resort experts",
            priority="1",
            measure="1.5",
            deadline_year=2023,
            target=Target(kind="coverage_per_resort"),
        ),
        IndicatorInfo(
            code="1.7.2",
            title="Handbook",
            priority="1",
            measure="1.7",
            deadline_year=2026,
            target=Target(kind="milestone"),
        ),
        IndicatorInfo(
            code="2.4.2", title="Institutions", priority="2", measure="2.4", deadline_year=2027
        ),
    ]
    records.employments = [
        Employment(
            person=f"s{i}",
            institution="FM" if i < 4 else "VID",
            valid_from=date(2020, 1, 1),
            roles=frozenset({"procurement_specialist"}),
            position_group="procurement",
        )
        for i in range(8)
    ] + [
        Employment(
            person="t1",
            institution="TM",
            valid_from=date(2020, 1, 1),
            roles=frozenset({"procurement_specialist"}),
        )
    ]
    records.enrolments = [
        Enrolment(
            person=f"s{i}",
            course="PROC",
            status="completed",
            status_date=date(2022, 5, 1),
            course_tags=frozenset({"measure:1.5"}),
        )
        for i in range(6)
    ]
    records.headcount_rows = [
        Headcount("FM", date(2021, 1, 1), 4, role="procurement_specialist"),
        Headcount("VID", date(2021, 1, 1), 4, role="procurement_specialist"),
        Headcount("TM", date(2021, 1, 1), 2, role="procurement_specialist"),
    ]


SHARE_SPEC = {
    "kind": "share",
    "filter": {"course_tags": ["measure:1.5"], "statuses": ["completed"]},
    "denominator": {"source": "headcount", "filter": {"roles": ["procurement_specialist"]}},
}


@pytest.fixture
def plan(
    client: TestClient, tokens: TokenFactory, catalog: MemoryCatalog, records: MemoryRecords
) -> TestClient:
    _plan(catalog, records)
    writer = tokens.headers(WRITE)
    for code, spec in [
        ("1.5.1", SHARE_SPEC),
        ("1.7.2", {"kind": "manual", "value_kind": "milestone"}),
        ("2.4.2", {"kind": "distinct_institutions", "filter": {"course_tags": ["measure:1.5"]}}),
    ]:
        answer = client.post(
            "/v1/definitions", json={"code": code, "plan": PLAN, "spec": spec}, headers=writer
        )
        assert answer.status_code == 201, answer.text
    return client


def _get(
    client: TestClient, tokens: TokenFactory, path: str, scope: str = READ, **kwargs: Any
) -> Any:
    answer = client.get(path, headers=tokens.headers(scope, **kwargs))
    assert answer.status_code == 200, answer.text
    return answer


def test_result_has_value_parts_target_status_cutoff_and_breakdowns(
    plan: TestClient, tokens: TokenFactory, records: MemoryRecords
) -> None:
    body = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31").json()
    assert (body["numerator"], body["denominator"], body["value"]) == (6, 10, 60.0)
    assert body["target"]["kind"] == "min_share" and body["target_kind"] == "min_share"
    assert body["status"] == "not_achieved" or body["status"] == "at_risk"
    assert body["status"] == "at_risk"  # 31 Dec 2023 is still within the deadline year
    assert body["definition_version"] == 1
    assert body["cutoff_seq"] == records.seq
    institution = {
        r["key"]: (r["numerator"], r["denominator"])
        for r in next(b for b in body["breakdowns"] if b["dimension"] == "institution")["rows"]
    }
    assert institution == {"FM": (4, 4), "VID": (2, 4), "TM": (0, 2)}
    resort = {
        r["key"]: (r["numerator"], r["denominator"])
        for r in next(b for b in body["breakdowns"] if b["dimension"] == "resort")["rows"]
    }
    assert resort == {"FM": (6, 8), "TM": (0, 2)}
    after = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2024-01-01").json()
    assert after["status"] == "not_achieved"


def test_breakdown_and_period_parameters(plan: TestClient, tokens: TokenFactory) -> None:
    body = _get(
        plan, tokens, "/v1/indicators/1.5.1?as_of=2024-12-31&breakdown=sector&period=2023"
    ).json()
    assert [b["dimension"] for b in body["breakdowns"]] == ["sector"]
    assert body["numerator"] == 0 and body["period_from"] == "2023-01-01"
    bad = plan.get("/v1/indicators/1.5.1?breakdown=colour", headers=tokens.headers(READ))
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert (
        plan.get("/v1/indicators/1.5.1?period=2024..2023", headers=tokens.headers(READ)).status_code
        == 400
    )
    # A Latvian-style date: the answer names the formats that are understood.
    dotted = plan.get("/v1/indicators/1.5.1?period=31.12.2025", headers=tokens.headers(READ))
    assert dotted.status_code == 400
    assert "expected YYYY, YYYY..YYYY, YYYY-MM-DD" in dotted.json()["detail"]
    as_of = plan.get("/v1/indicators/1.5.1?as_of=31.12.2025", headers=tokens.headers(READ))
    assert as_of.status_code == 422
    assert "YYYY-MM-DD" in as_of.json()["errors"][0]["reason"]


def test_the_cumulative_series_is_there_unless_series_false(
    plan: TestClient, tokens: TokenFactory
) -> None:
    body = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31").json()
    assert [(p["year"], p["numerator"]) for p in body["cumulative"]] == [
        (2021, 0),
        (2022, 6),
        (2023, 6),
    ]
    assert [(p["year"], p["numerator"]) for p in body["per_year"]] == [
        (2021, 0),
        (2022, 6),
        (2023, 0),
    ]
    skipped = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31&series=false").json()
    assert skipped["cumulative"] == [] and skipped["value"] == body["value"]


def test_csv_export_of_a_result(plan: TestClient, tokens: TokenFactory) -> None:
    answer = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31&format=csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    total = rows[0]
    assert (total["section"], total["value"], total["numerator"], total["denominator"]) == (
        "total",
        "60.0",
        "6.0",
        "10.0",
    )
    assert total["definition_version"] == "1" and total["status"] == "at_risk"
    vid = next(r for r in rows if r["dimension"] == "institution" and r["key"] == "VID")
    assert (vid["numerator"], vid["denominator"], vid["value"]) == ("2.0", "4.0", "50.0")
    by_accept = plan.get(
        "/v1/indicators/1.5.1?as_of=2023-12-31",
        headers={**tokens.headers(READ), "Accept": "text/csv"},
    )
    assert by_accept.text == answer.text
    listing = _get(plan, tokens, "/v1/indicators?format=csv&as_of=2023-12-31").text
    assert listing.splitlines()[0].startswith("code,title,priority,measure")
    # The .csv operations (what a generated client calls): the same text, not a code "….csv".
    twin = _get(plan, tokens, "/v1/indicators/1.5.1.csv?as_of=2023-12-31")
    assert twin.status_code == 200 and twin.headers["content-type"].startswith("text/csv")
    assert twin.text == answer.text
    assert _get(plan, tokens, "/v1/indicators.csv?as_of=2023-12-31").text == listing
    assert _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31").json()["code"] == "1.5.1"


def test_the_stored_result_is_served_until_the_refresher_computes_it_again(
    plan: TestClient, tokens: TokenFactory, records: MemoryRecords
) -> None:
    first = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31")
    assert first.headers["x-cache"] == "miss"
    assert first.headers["x-records-head"] == str(records.seq)
    assert first.json()["computed_at"] == first.headers["x-computed-at"].replace("+00:00", "Z")
    calls = records.calls
    second = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31")
    assert second.headers["x-cache"] == "hit" and records.calls == calls
    assert second.json()["value"] == 60.0
    records.enrolments.append(
        Enrolment(
            person="s6",
            course="PROC",
            status="completed",
            status_date=date(2022, 6, 1),
            course_tags=frozenset({"measure:1.5"}),
        )
    )
    records.change()

    def recomputed() -> Any:
        body = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31")
        return body if body.json()["numerator"] == 7 else None

    third = eventually(recomputed)  # the refresher follows the feed; the read never waits
    assert third.headers["x-cache"] == "hit"
    assert third.json()["cutoff_seq"] == records.seq
    assert third.headers["x-records-head"] == str(records.seq)


def test_restricted_client_sees_only_its_institutions(
    plan: TestClient, tokens: TokenFactory
) -> None:
    body = _get(plan, tokens, "/v1/indicators/1.5.1?as_of=2023-12-31", institutions=["VID"]).json()
    assert (body["numerator"], body["denominator"]) == (2, 4)
    keys = {
        r["key"] for b in body["breakdowns"] if b["dimension"] == "institution" for r in b["rows"]
    }
    assert keys == {"VID"}
    assert body["institutions_scope"] == ["VID"]


def test_list_and_plan_progress(plan: TestClient, tokens: TokenFactory) -> None:
    listed = _get(plan, tokens, "/v1/indicators?measure=1.5&as_of=2023-12-31").json()["data"]
    assert [(i["code"], i["status"]) for i in listed] == [
        ("1.5.1", "at_risk"),
        ("1.5.2", "not_defined"),
    ]
    progress = _get(plan, tokens, "/v1/plan/progress?as_of=2023-12-31").json()
    total = progress["total"]
    assert total["indicators"] == 4
    assert (total["at_risk"], total["no_data"], total["no_target"], total["not_defined"]) == (
        1,
        1,
        1,
        1,
    )
    measures = {m["code"]: m for m in progress["measures"]}
    assert measures["1.7"]["no_data"] == 1
    assert [p["code"] for p in progress["priorities"]] == ["1", "2"]
    paged = _get(plan, tokens, "/v1/indicators?limit=3&as_of=2023-12-31").json()
    assert len(paged["data"]) == 3 and paged["next_cursor"]
    rest = _get(
        plan, tokens, f"/v1/indicators?limit=3&cursor={paged['next_cursor']}&as_of=2023-12-31"
    ).json()
    assert [i["code"] for i in rest["data"]] == ["2.4.2"] and rest["next_cursor"] is None


def test_hand_reported_indicator_with_observations(plan: TestClient, tokens: TokenFactory) -> None:
    observation = {
        "value": 1,
        "observed_on": "2024-09-01",
        "source": "Handbook published on vas.gov.lv",
    }
    created = plan.post(
        "/v1/indicators/1.7.2/observations",
        json=observation,
        headers=tokens.headers(WRITE, client_id="vk-hr"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["entered_by"] == "vk-hr"
    again = plan.post(
        "/v1/indicators/1.7.2/observations", json=observation, headers=tokens.headers(WRITE)
    )
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    clash = plan.post(
        "/v1/indicators/1.7.2/observations",
        json={**observation, "value": 0},
        headers=tokens.headers(WRITE),
    )
    assert clash.status_code == 409
    assert len(_get(plan, tokens, "/v1/indicators/1.7.2/observations").json()["data"]) == 1
    body = _get(plan, tokens, "/v1/indicators/1.7.2?as_of=2024-12-31").json()
    assert body["value"] == 1 and body["status"] == "achieved"
    assert body["observation"]["source"] == "Handbook published on vas.gov.lv"
    computed = plan.post(
        "/v1/indicators/1.5.1/observations", json=observation, headers=tokens.headers(WRITE)
    )
    assert computed.status_code == 409
    assert (
        plan.post(
            "/v1/indicators/1.7.2/observations", json=observation, headers=tokens.headers(READ)
        ).status_code
        == 403
    )
    empty = plan.post(
        "/v1/indicators/1.7.2/observations",
        json={"observed_on": "2024-01-01", "source": "x"},
        headers=tokens.headers(WRITE),
    )
    assert empty.status_code == 422


def test_explain_lists_counted_people_for_admins_only_and_scoped(
    plan: TestClient, tokens: TokenFactory, records: MemoryRecords
) -> None:
    assert plan.get("/v1/indicators/1.5.1/explain", headers=tokens.headers(READ)).status_code == 403
    body = _get(plan, tokens, "/v1/indicators/1.5.1/explain?as_of=2023-12-31", scope="admin").json()
    assert body["count"] == 6 and body["metric"] == "people"
    assert {m["person"] for m in body["data"]} == {f"s{i}" for i in range(6)}
    scoped = _get(
        plan,
        tokens,
        "/v1/indicators/1.5.1/explain?as_of=2023-12-31",
        scope="admin",
        institutions=["VID"],
    ).json()
    assert {(m["person"], m["institution"]) for m in scoped["data"]} == {
        ("s4", "VID"),
        ("s5", "VID"),
    }
    institutions = _get(plan, tokens, "/v1/indicators/2.4.2/explain?limit=1", scope="admin").json()
    assert (
        institutions["count"] == 2
        and institutions["data"] == [{"person": None, "institution": "FM"}]
        and institutions["next_cursor"]
    )
    records.offers_members = False
    missing = plan.get("/v1/indicators/1.5.1/explain", headers=tokens.headers("admin"))
    assert missing.status_code == 503 and "members" in missing.json()["detail"]


def test_reads_need_a_token_and_the_scope(plan: TestClient, tokens: TokenFactory) -> None:
    assert plan.get("/v1/indicators/1.5.1").status_code == 401
    assert (
        plan.get("/v1/indicators/1.5.1", headers=tokens.headers("catalog:read")).status_code == 403
    )
    assert plan.get("/v1/indicators/9.9.9", headers=tokens.headers(READ)).status_code == 404


def test_annex3_norms_per_institution(
    client: TestClient, tokens: TokenFactory, catalog: MemoryCatalog, records: MemoryRecords
) -> None:
    catalog.institution_rows = [
        InstitutionInfo(code="TM", name="TM", sector="state", kind="ministry"),
        InstitutionInfo(code="FM", name="FM", sector="state", kind="ministry"),
    ]
    records.employments = [
        Employment(person=p, institution="TM", valid_from=date(2020, 1, 1)) for p in ("a", "b")
    ]
    records.employments.append(
        Employment(person="c", institution="FM", valid_from=date(2020, 1, 1))
    )
    records.enrolments = [
        Enrolment(
            person="a", course="X", status="completed", status_date=date(2024, 3, 1), hours=30
        ),
        Enrolment(
            person="a", course="Y", status="completed", status_date=date(2024, 4, 1), hours=18
        ),
        Enrolment(person="a", course="Z", status="no_show", status_date=date(2024, 5, 1), hours=8),
        Enrolment(
            person="c", course="X", status="completed", status_date=date(2024, 3, 1), hours=6
        ),
    ]
    records.headcount_rows = [
        Headcount("TM", date(2024, 1, 1), 2),
        Headcount("FM", date(2024, 1, 1), 1),
    ]
    body = _get(client, tokens, "/v1/norms?year=2024&as_of=2025-01-31").json()
    rows = {r["institution"]: r for r in body["rows"]}
    tm = rows["TM"]
    assert tm["hours_per_employee_month"] == 2.0 and tm["meets_hours_norm"] is True  # 48 h / 2 / 12
    assert tm["learning_share"] == 50.0 and tm["enrolments_per_learner"] == 2.0
    assert tm["no_show_rate"] == pytest.approx(100 / 3)
    assert rows["FM"]["hours_per_employee_month"] == 0.5 and rows["FM"]["meets_hours_norm"] is False
    scoped = _get(
        client, tokens, "/v1/norms?year=2024&as_of=2025-01-31", institutions=["FM"]
    ).json()
    assert [r["institution"] for r in scoped["rows"]] == ["FM"]
    partial = _get(client, tokens, "/v1/norms?year=2024&as_of=2024-06-30").json()
    assert partial["months"] == 6
    assert _get(client, tokens, "/v1/norms?year=2024&as_of=2025-01-31&format=csv").text.startswith(
        "year,institution"
    )


def test_position_group_rows_are_named_from_the_catalog_in_the_asked_language(
    plan: TestClient, tokens: TokenFactory, catalog: MemoryCatalog, records: MemoryRecords
) -> None:
    catalog.reference_names = {"position_groups": {"procurement": ("Iepirkumi", "Procurement")}}
    catalog.version_number += 1
    records.enrolments.append(
        Enrolment("t1", "PROC", "completed", date(2022, 6, 1), frozenset({"measure:1.5"}))
    )
    names = {}
    for language in ("lv", "en"):
        answer = plan.get(
            "/v1/indicators/1.5.1?as_of=2023-12-31&breakdown=position_group",
            headers={**tokens.headers(READ), "Accept-Language": language},
        )
        assert answer.status_code == 200, answer.text
        [breakdown] = answer.json()["breakdowns"]
        names[language] = {r["key"]: r["name"] for r in breakdown["rows"]}
    # TM's procurement specialist records no position group: an explicit key with a name.
    assert names["lv"] == {"procurement": "Iepirkumi", "unspecified": "Nav norādīts"}
    assert names["en"] == {"procurement": "Procurement", "unspecified": "Not recorded"}
