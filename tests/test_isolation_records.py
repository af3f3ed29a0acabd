"""Two institutions side by side in learning records: B reads, lists, changes, counts and erases
nothing of A's, through the gateway and directly at the service.

A (VK) and B (FM) each write their world through their own restricted client: people links with
display names, employment with roles, enrolments, test results, certificates, feedback,
competency assessments and headcounts. One person works in both (each side holds its own
records of them). Then B attacks: the "claiming" attack (an employment of A's person, then
history, HR pull, counts, erasure and a display-name change), every read with A's codes, every
write with A's source ids, and finally every records route discovered from the app's OpenAPI
document. Each answer is searched for A's data, and A's rows are compared with a snapshot. The
claiming attack is also read back through the indicators service (which reads the records with
its own unrestricted client): A's learner is never counted under B.

The worlds and the stack are tests/worlds.py's (the `worlds` fixture, tests/conftest.py); the
indicators routes are walked in test_isolation_indicators.py, the xAPI routes in
test_isolation_xapi.py and services/learning-records/tests/xapi.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from .world_items import A_CODE, B_CODE, SHARED_CODE, A, B, a_items
from .worlds import Caller, Stack, a_rows, assert_no_a_data, learners_counted


def _count(caller: Caller, **query: Any) -> Any:
    answer = caller.post("/v1/aggregations/query", json=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- the named attacks ------------------------------------------------------------------------


def test_claiming_attack(worlds: Stack) -> None:
    """B records an employment of A's person, then tries every door that used to open."""
    before = a_rows(worlds)
    b, pseudonym = worlds.b, worlds.pseudonyms["a"]
    people_before = _count(b, metric="people")["total"]
    assert learners_counted(worlds.central_indicators) == (3, {A: 2, B: 1})
    assert b.get(f"/v1/people/{pseudonym}/history").status_code == 404
    claim = {
        "source_system": "hr-fm",
        "external_id": "claim-1",
        "personal_code": A_CODE,
        "institution": B,
        "sector": "state",
        "valid_from": "2000-01-01",
    }
    assert b.post("/v1/employment", json=claim).status_code == 201  # B may record its own

    # History and competencies: only B's own employment, none of A's records or names.
    history = b.get(f"/v1/people/{pseudonym}/history")
    assert history.status_code == 200, history.text
    assert_no_a_data(history)
    body = history.json()
    assert body["person"]["display_name"] is None
    assert [job["external_id"] for job in body["employment"]] == ["claim-1"]
    for records in ("enrolments", "test_attempts", "certificates", "feedback", "assessments"):
        assert body[records] == [], records
    competencies = b.get(f"/v1/people/{pseudonym}/competencies")
    assert competencies.status_code == 200 and competencies.json()["competencies"] == []

    # HR pull: B's own pull lists nothing of A's; A's pull is not B's to read.
    for fmt in ("json", "csv"):
        pull = b.get(f"/v1/hr/{B}/updates", params={"format": fmt})
        assert pull.status_code == 200
        assert_no_a_data(pull, pseudonym)
    assert b.get(f"/v1/hr/{A}/updates").status_code == 404

    # Counts: the claimed person's learning is not counted for B, whatever the filter.
    assert _count(b, metric="people")["total"] == people_before
    assert _count(b, metric="people", filter={"institutions": [A]})["total"] == 0
    assert _count(b, metric="hours")["total"] == 4.0
    members = b.post("/v1/aggregations/members", json={"metric": "people"})
    assert pseudonym not in members.text
    # …nor does B's employment move A's records into B's figures for a central reader.
    central = _count(worlds.central, metric="people", filter={"institutions": [B]})
    assert central["total"] == 1
    # Indicators read the records with their own unrestricted client: B's indicator counts
    # B's one learner, and an unrestricted reader still counts A's two under A, not under B.
    assert learners_counted(worlds.b_indicators) == (1, {B: 1})
    assert learners_counted(worlds.central_indicators) == (3, {A: 2, B: 1})

    # Erasure: not a restricted client's to run, with or without records:erase in its token.
    for dry_run in (True, False):
        erased = worlds.b_all.post(
            "/v1/privacy/erasure", json={"personal_code": A_CODE, "dry_run": dry_run}
        )
        assert erased.status_code == 403, erased.text
        assert erased.headers["content-type"] == "application/problem+json"
        assert_no_a_data(erased)

    # Display name: A's link cannot be overwritten; B's own link changes nothing A sees.
    overwrite = {
        "source_system": "hr-vk",
        "external_id": "vk-emp-1",
        "personal_code": A_CODE,
        "institution": B,
        "display_name": "Claimed Name",
        "update": True,
    }
    refused = b.post("/v1/people", json=overwrite)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/foreign-record")
    assert b.post("/v1/people", json={**overwrite, "institution": A}).status_code == 404
    own_link = {**overwrite, "source_system": "hr-fm", "external_id": "fm-claim-1", "update": False}
    assert b.post("/v1/people", json=own_link).status_code == 201
    for reader in (worlds.a, worlds.central):
        seen = reader.get(f"/v1/people/{pseudonym}/history").json()["person"]["display_name"]
        assert seen == "Anna Avotiņa"

    assert a_rows(worlds) == before
    a_history = worlds.a.get(f"/v1/people/{pseudonym}/history").json()
    assert [c["certificate_number"] for c in a_history["certificates"]] == ["VK-CERT-0001"]
    assert "claim-1" not in json.dumps(a_history)  # nor does A see B's records


def test_b_cannot_read_list_or_count_a_data(worlds: Stack) -> None:
    """Every read of B's with A's codes and filters answers nothing of A's."""
    b, a_person, shared = worlds.b, worlds.pseudonyms["a"], worlds.pseudonyms["shared"]
    for path in (f"/v1/people/{a_person}/history", f"/v1/people/{a_person}/competencies"):
        assert b.get(path).status_code == 404
    assert b.post("/v1/people/lookup", json={"personal_code": A_CODE}).status_code == 404
    assert b.get(f"/v1/hr/{A}/updates").status_code == 404
    for params in ({}, {"institution": A}, {"person": a_person}, {"course_code": "VK-ONLY-101"}):
        listed = b.get("/v1/enrolments", params=params)
        assert listed.status_code == 200
        assert_no_a_data(listed, a_person)
    assert [e["external_id"] for e in b.get("/v1/enrolments").json()["data"]] == ["fm-enr-1"]

    # The person both employ: each side sees only its own records and its own name.
    b_view = b.get(f"/v1/people/{shared}/history").json()
    assert_no_a_data(b.get(f"/v1/people/{shared}/history"))
    assert b_view["person"]["display_name"] == "S. Ā. (FM)"
    assert [j["external_id"] for j in b_view["employment"]] == ["fm-emp-2-job"]
    assert b_view["enrolments"] == []
    a_view = worlds.a.get(f"/v1/people/{shared}/history").json()
    assert a_view["person"]["display_name"] == "Sandra Ābele"
    assert [j["external_id"] for j in a_view["employment"]] == ["vk-emp-2-job"]

    # Counts and headcounts: B's own figures only.
    people = _count(b, metric="people", group_by=["institution"])
    assert people["total"] == 1 and [g["key"] for g in people["groups"]] == [{"institution": B}]
    assert _count(b, metric="institutions")["total"] == 1
    assert _count(b, metric="enrolments", filter={"courses": ["VK-ONLY-101"]})["total"] == 0
    heads = b.post(
        "/v1/aggregations/headcounts", json={"as_of": "2024-12-31", "group_by": ["institution"]}
    )
    assert heads.status_code == 200
    assert heads.json()["total"] == 55
    assert [g["key"] for g in heads.json()["groups"]] == [{"institution": B}]
    members = b.post("/v1/aggregations/members", json={"metric": "people"})
    assert [m["institution"] for m in members.json()["members"]] == [B]
    assert_no_a_data(members, a_person, shared)
    batch = b.post(
        "/v1/aggregations/batch",
        json={
            "aggregations": [{"metric": "people", "group_by": ["institution"]}],
            "headcounts": [
                {"as_of": d, "group_by": ["institution"]} for d in ("2024-12-31", "2030-01-01")
            ],
        },
    ).json()
    assert batch["aggregations"][0] == people | {"cutoff_seq": batch["cutoff_seq"]}
    assert [h["total"] for h in batch["headcounts"]] == [55, 55]
    assert {g["key"]["institution"] for h in batch["headcounts"] for g in h["groups"]} == {B}

    # The change feed: only the versions of B's own records.
    feed = b.get("/v1/changes", params={"limit": 1000}).json()
    assert feed["count"] == len(feed["data"]), "B's count covers only what B may see"
    assert feed["data"], "B sees its own changes"
    with worlds.engine.connect() as connection:
        for change in feed["data"]:
            row = connection.execute(
                text(f"SELECT institution FROM {change['entity']} WHERE id = :id"),
                {"id": int(change["key"])},
            ).one()
            assert row[0] == B, change
    everything = worlds.central.get("/v1/changes", params={"limit": 1000}).json()["data"]
    assert len(everything) > len(feed["data"])


def test_b_cannot_change_a_data(worlds: Stack) -> None:
    """B writing A's source ids (as its own or as A's institution) changes nothing of A's."""
    before = a_rows(worlds)
    for kind, items in a_items().items():
        for item in items:
            for institution, status in ((B, 403), (A, 404)):
                attempt = {**item, "institution": institution, "update": True}
                answer = worlds.b.post(f"/v1/{kind}", json=attempt)
                assert answer.status_code == status, (kind, institution, answer.text)
                assert_no_a_data(answer)
        bulk = worlds.b.post(
            f"/v1/{kind}/bulk", json=[{**item, "institution": B, "update": True} for item in items]
        )
        assert bulk.status_code == 200
        assert bulk.json()["counts"]["rejected"] == len(items), bulk.text
        assert all(outcome["id"] is None for outcome in bulk.json()["items"])
    # A person referenced by A's HR id does not resolve for B.
    by_link = {
        "source_system": "lms-fm",
        "external_id": "fm-by-link",
        "person_source_system": "hr-vk",
        "person_external_id": "vk-emp-1",
        "institution": B,
        "course_code": "FM-COURSE-1",
        "status": "registered",
        "enrolled_on": "2024-09-01",
    }
    assert worlds.b.post("/v1/enrolments", json=by_link).status_code == 422
    assert a_rows(worlds) == before


def test_only_an_unrestricted_client_may_hold_or_use_records_erase(worlds: Stack) -> None:
    """The gateway refuses to register a restricted eraser; the service refuses to obey one."""
    for restriction in ({"institutions": [B]}, {"resort": "FM"}):
        created = worlds.gateway.post(
            "/admin/clients",
            json={"name": "eraser", "scopes": ["records:erase"], **restriction},
            headers=worlds.admin,
        )
        assert created.status_code == 422, created.text
        assert "records:erase" in created.text
    before = a_rows(worlds)
    for path, body in (
        ("/v1/privacy/erasure", {"pseudonym": worlds.pseudonyms["a"], "dry_run": False}),
        ("/v1/privacy/retention", {"before": "2100-01-01", "dry_run": False}),
    ):
        assert worlds.b_all.post(path, json=body).status_code == 403
    assert a_rows(worlds) == before
    dry = worlds.central.post("/v1/privacy/erasure", json={"personal_code": A_CODE})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["rows"]["certificate"] == 1
    assert a_rows(worlds) == before


# --- every route ------------------------------------------------------------------------------


def _query_value(name: str, worlds: Stack) -> Any:
    return {
        "institution": A,
        "person": worlds.pseudonyms["a"],
        "course_code": "VK-ONLY-101",
        "status": "completed",
        "format": "csv",
    }.get(name)


def _bodies(path: str, worlds: Stack) -> list[Any]:
    """What B sends to a POST route: A's codes, ids and items wherever the route takes them."""
    forged_items = a_items()
    if path == "/v1/people/lookup":
        return [{"personal_code": A_CODE}]
    if path == "/v1/people/lookup/bulk":
        return [{"personal_codes": [A_CODE, SHARED_CODE, B_CODE]}]
    if path == "/v1/privacy/erasure":
        return [{"personal_code": A_CODE, "dry_run": False}]
    if path == "/v1/privacy/retention":
        return [{"before": "2100-01-01", "dry_run": False}]
    if path in ("/v1/aggregations/query", "/v1/aggregations/members"):
        return [
            {"metric": metric, "filter": flt}
            for metric in ("people", "hours", "institutions")
            for flt in ({}, {"institutions": [A]}, {"courses": ["VK-ONLY-101"]})
        ]
    if path == "/v1/aggregations/headcounts":
        return [{"as_of": "2030-01-01", "filter": {"institutions": [A]}}, {"as_of": "2030-01-01"}]
    if path == "/v1/aggregations/batch":
        return [
            {
                "aggregations": _bodies("/v1/aggregations/query", worlds),
                "headcounts": _bodies("/v1/aggregations/headcounts", worlds),
            }
        ]
    kind = path.removeprefix("/v1/").removesuffix("/bulk")
    if kind in forged_items:
        forged = [
            {**item, "institution": institution, "update": True}
            for item in forged_items[kind]
            for institution in (A, B)
        ]
        return [forged] if path.endswith("/bulk") else forged
    return [{}]


def test_every_records_route_as_b_shows_and_changes_nothing_of_a(worlds: Stack) -> None:
    """Each route of the records app (from its OpenAPI document), called by B with A's codes."""
    document = worlds.records.app.openapi()  # type: ignore[attr-defined]
    before = a_rows(worlds)
    called = 0
    for path, operations in sorted(document["paths"].items()):
        if path.startswith("/xapi"):
            continue  # partitioned by the LRS's own rule and tests
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            url = path
            query: dict[str, Any] = {}
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if parameter["in"] == "path":
                    value = A if name == "institution" else worlds.pseudonyms["a"]
                    url = url.replace("{" + name + "}", value)
                elif parameter["in"] == "query" and _query_value(name, worlds) is not None:
                    query[name] = _query_value(name, worlds)
            bodies = _bodies(path, worlds) if method in ("post", "put", "patch") else [None]
            for body in bodies:
                answer = worlds.b_all.request(
                    method.upper(), url, params=query, json=body if body is not None else None
                )
                assert answer.status_code < 500, f"{method} {url}: {answer.text[:300]}"
                assert_no_a_data(answer, worlds.pseudonyms["a"])
                called += 1
    assert called > 20, "the routes must be found"
    assert a_rows(worlds) == before
