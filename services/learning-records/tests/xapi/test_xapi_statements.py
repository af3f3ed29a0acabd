"""Statement resource over HTTP: immutability, batches, validation, voiding, paging, headers.

Each test names the requirement id (XAPI-00nnn) of the ADL conformance suite it covers.
"""

from __future__ import annotations

import uuid
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from learning_records.xapi.validation import parse_timestamp

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def _void(target: str) -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:admin@example.lv"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": target},
    }


def test_put_then_get_by_statement_id_xapi_00156(lrs: Any, make_statement: Any) -> None:
    """XAPI-00156 / XAPI-00158: PUT stores under statementId; GET returns it completed."""
    body = make_statement()
    response = lrs.put("/statements", params={"statementId": body["id"]}, json=body)
    assert response.status_code == 204, response.text
    got = lrs.get("/statements", params={"statementId": body["id"]})
    assert got.status_code == 200
    stored = got.json()
    assert stored["id"] == body["id"]
    assert stored["actor"] == body["actor"]
    assert stored["authority"]["account"]["name"] == "lms-dev"
    assert stored["version"] == "1.0.0"
    assert stored["timestamp"] == stored["stored"]
    assert parse_timestamp(stored["stored"])  # ISO 8601 with milliseconds
    assert got.headers["X-Experience-API-Version"] == "1.0.3"
    assert parsedate_to_datetime(got.headers["Last-Modified"])


def test_same_id_same_content_changes_nothing_xapi_00142(lrs: Any, make_statement: Any) -> None:
    """XAPI-00142: a statement sent again with the same id and content changes nothing."""
    body = make_statement()
    assert lrs.post("/statements", json=body).json() == [body["id"]]
    first = lrs.get("/statements", params={"statementId": body["id"]}).json()
    assert lrs.post("/statements", json=body).status_code == 200
    assert lrs.put("/statements", params={"statementId": body["id"]}, json=body).status_code == 204
    assert lrs.get("/statements", params={"statementId": body["id"]}).json() == first
    assert len(lrs.statements()) == 1


def test_same_id_other_content_is_409_xapi_00142(lrs: Any, make_statement: Any) -> None:
    """XAPI-00142: the same id with different content is 409 and the stored one is kept."""
    body = make_statement()
    lrs.post("/statements", json=body)
    other = {**body, "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}}
    response = lrs.put("/statements", params={"statementId": body["id"]}, json=other)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["statement_id"] == body["id"]
    assert lrs.post("/statements", json=[make_statement(), other]).status_code == 409
    stored = lrs.get("/statements", params={"statementId": body["id"]}).json()
    assert stored["verb"]["id"] == body["verb"]["id"]
    assert len(lrs.statements()) == 1


def test_duplicate_ids_in_a_batch_write_nothing_xapi_00326(lrs: Any, make_statement: Any) -> None:
    """XAPI-00326: a batch with two statements of one id is 400 and nothing of it is stored."""
    first = make_statement()
    batch = [make_statement(), first, {**first, "verb": {"id": "http://example.lv/verbs/x"}}]
    response = lrs.post("/statements", json=batch)
    assert response.status_code == 400
    assert "same id" in response.json()["detail"]
    assert lrs.statements() == []


def test_one_invalid_statement_rejects_the_batch_xapi_00326(lrs: Any, make_statement: Any) -> None:
    """XAPI-00326: one invalid statement rejects the whole batch; the error names it."""
    batch = [make_statement(), make_statement(verb={"id": "no-scheme"})]
    response = lrs.post("/statements", json=batch)
    assert response.status_code == 400
    body = response.json()
    assert body["index"] == 1
    assert body["path"] == "verb.id"
    assert "IRI" in body["rule"]
    assert lrs.statements() == []


#: (change to a valid statement, the JSON path named, words of the rule) with their XAPI ids.
INVALID_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"verb": {"id": "experienced"}}, "verb.id", "IRI"),  # XAPI-00011
    ({"actor": {"name": "nobody"}}, "actor", "inverse functional identifier"),  # XAPI-00032
    ({"actor": {"mbox": "learner@example.lv"}}, "actor.mbox", "mailto"),  # XAPI-00037
    ({"timestamp": "2024-01-01T10:00:00.000-00:00"}, "timestamp", "-00:00"),  # XAPI-00122
    ({"timestamp": "01/011/2015"}, "timestamp", "ISO 8601"),  # XAPI-00123
    ({"result": {"duration": "P4W1D"}}, "result.duration", "ISO 8601"),  # XAPI-00124
    ({"result": {"score": {"scaled": 1.5}}}, "result.score.scaled", "between -1 and 1"),
    ({"id": "not-a-uuid"}, "id", "UUID"),  # XAPI-00027
    ({"Actor": {"mbox": "mailto:a@b.lv"}}, "Actor", "not a property"),  # XAPI-00325
    ({"context": {"registration": None}}, "context.registration", "null"),  # XAPI-00001
    (
        {"object": {"id": "http://x.lv/a", "definition": {"interactionType": "essay"}}},
        "object.definition.interactionType",
        "interactionType",
    ),  # XAPI-00049
    (
        {
            "object": {"objectType": "Agent", "mbox": "mailto:a@b.lv"},
            "context": {"platform": "x"},
        },
        "context.platform",
        "only when the object is an Activity",
    ),  # XAPI-00099
]


def test_validation_400_names_the_rule_xapi_00012(lrs: Any, make_statement: Any) -> None:
    """XAPI-00012 and the ids beside each case: a 400 naming the path and the broken rule."""
    for change, path, rule_words in INVALID_CASES:
        body = make_statement()
        if "Actor" in change:
            body.pop("actor")
        body.update(change)
        response = lrs.post("/statements", json=body)
        assert response.status_code == 400, response.text
        problem = response.json()
        assert problem["path"] == path
        assert rule_words in problem["rule"]
    assert lrs.statements() == []


def test_version_2_context_agents_validated_and_stored(lrs: Any, make_statement: Any) -> None:
    """xAPI 2.0 contextAgents are accepted under 2.0.0 and refused as unknown under 1.0.3."""
    context = {
        "contextAgents": [
            {"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.lv"}}
        ]
    }
    body = make_statement(context=context)
    assert lrs.post("/statements", json=body).status_code == 400
    lrs.version = "2.0.0"
    bad = make_statement(context={"contextAgents": [{"objectType": "contextAgent", "agent": {}}]})
    assert lrs.post("/statements", json=bad).status_code == 400
    response = lrs.post("/statements", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["X-Experience-API-Version"] == "2.0.0"
    assert lrs.get("/statements", params={"statementId": body["id"]}).json()["version"] == "2.0.0"


def test_version_header_required_and_echoed_xapi_00321(lrs: Any, make_statement: Any) -> None:
    """XAPI-00321 / XAPI-00331: the version header is required (About excepted), bad ones 400."""
    missing = lrs.get("/statements", headers={"X-Experience-API-Version": None})
    assert missing.status_code == 400
    assert missing.headers["X-Experience-API-Version"] == "2.0.0"
    assert lrs.get("/statements", headers={"X-Experience-API-Version": "0.9"}).status_code == 400
    about = lrs.client.get("/xapi/about")
    assert about.status_code == 200
    assert about.json()["version"] == ["1.0.3", "2.0.0"]


def test_consistent_through_on_every_get_xapi_00153(lrs: Any) -> None:
    """XAPI-00153 / XAPI-00160: X-Experience-API-Consistent-Through on success and on error."""
    ok = lrs.get("/statements")
    bad = lrs.get("/statements", params={"statementId": "nope"})
    assert bad.status_code == 400
    for response in (ok, bad):
        assert parse_timestamp(response.headers["X-Experience-API-Consistent-Through"])


def test_unknown_or_miscased_parameters_are_400_xapi_00324(lrs: Any) -> None:
    """XAPI-00324 / XAPI-00325: unknown or differently cased parameters are refused."""
    assert lrs.get("/statements", params={"foo": "bar"}).status_code == 400
    assert lrs.get("/statements", params={"StatementId": str(uuid.uuid4())}).status_code == 400


def test_statement_id_combined_with_filters_is_400_xapi_00151(lrs: Any) -> None:
    """XAPI-00150 / XAPI-00151: statementId combines only with format and attachments."""
    params = {"statementId": str(uuid.uuid4()), "verb": "http://x.lv/v"}
    assert lrs.get("/statements", params=params).status_code == 400


def test_voiding_hides_the_target_xapi_00018(lrs: Any, make_statement: Any) -> None:
    """XAPI-00018 / XAPI-00163: a voided statement is found only by voidedStatementId."""
    target = make_statement()
    lrs.post("/statements", json=target)
    voiding = _void(target["id"])
    [voiding_id] = lrs.post("/statements", json=voiding).json()
    assert lrs.get("/statements", params={"statementId": target["id"]}).status_code == 404
    voided = lrs.get("/statements", params={"voidedStatementId": target["id"]})
    assert voided.status_code == 200
    assert voided.json()["id"] == target["id"]
    assert [s["id"] for s in lrs.statements()] == [voiding_id]


def test_voiding_a_voiding_statement_is_ignored_xapi_00016(lrs: Any, make_statement: Any) -> None:
    """XAPI-00016: a voiding statement cannot be voided; a missing target is not an error."""
    target = make_statement()
    lrs.post("/statements", json=target)
    [first] = lrs.post("/statements", json=_void(target["id"])).json()
    assert lrs.post("/statements", json=_void(first)).status_code == 200
    assert lrs.get("/statements", params={"statementId": first}).status_code == 200
    assert lrs.post("/statements", json=_void(str(uuid.uuid4()))).status_code == 200


def test_more_paging_stays_correct_deep_and_under_writes(lrs: Any, make_statement: Any) -> None:
    """XAPI-00154 / XAPI-00164: `more` pages through everything once, newest first, and new
    statements arriving meanwhile do not shift the pages of a query already begun."""
    ids = []
    for _chunk in range(5):
        batch = [make_statement() for _ in range(9)]
        assert lrs.post("/statements", json=batch).status_code == 200
        ids += [s["id"] for s in batch]
    first = lrs.get("/statements", params={"limit": "4"}).json()
    assert len(first["statements"]) == 4
    assert first["more"].startswith("/xapi/statements?more=")
    lrs.post("/statements", json=[make_statement() for _ in range(3)])  # arrives mid-query
    seen = [s["id"] for s in first["statements"]]
    more = first["more"]
    while more:
        page = lrs.client.get(more, headers=lrs.headers()).json()
        seen += [s["id"] for s in page["statements"]]
        more = page["more"]
    assert seen == list(reversed(ids))
    ascending = lrs.statements(ascending="true", limit="7")
    assert [s["id"] for s in ascending][:45] == ids
    assert len(lrs.statements()) == 48
    assert lrs.get("/statements", params={"more": "garbage!"}).status_code == 400


def test_filters_agent_verb_activity_registration_xapi_00164(lrs: Any, make_statement: Any) -> None:
    """XAPI-00164, 00176-00181: filters by agent, verb, activity, registration and related."""
    registration = str(uuid.uuid4())
    other_agent = {"mbox": "mailto:other@example.lv"}
    a = make_statement(context={"registration": registration})
    b = make_statement(
        actor=other_agent,
        verb={"id": "http://adlnet.gov/expapi/verbs/completed"},
        context={
            "instructor": {"mbox": "mailto:learner@example.lv"},
            "contextActivities": {"parent": {"id": "http://example.lv/activities/programme"}},
        },
    )
    ref = make_statement(actor=other_agent, object={"objectType": "StatementRef", "id": a["id"]})
    lrs.post("/statements", json=[a, b, ref])
    learner = '{"mbox": "mailto:learner@example.lv"}'

    def ids(**params: str) -> set[str]:
        return {s["id"] for s in lrs.statements(**params)}

    assert ids(agent=learner) == {a["id"], ref["id"]}  # ref targets a matching statement
    assert ids(agent=learner, related_agents="true") == {a["id"], b["id"], ref["id"]}
    assert ids(verb="http://adlnet.gov/expapi/verbs/completed") == {b["id"]}
    assert ids(registration=registration) == {a["id"], ref["id"]}
    assert ids(activity="http://example.lv/activities/programme") == set()
    assert ids(activity="http://example.lv/activities/programme", related_activities="true") == {
        b["id"]
    }
    assert lrs.get("/statements", params={"agent": "{not json"}).status_code == 400
    stored = lrs.get("/statements", params={"statementId": a["id"]}).json()["stored"]
    assert ids(since=stored) == set()  # one batch, one stored time; since is exclusive
    assert a["id"] in ids(until=stored)


def test_formats_ids_and_canonical_xapi_00169(lrs: Any, make_statement: Any) -> None:
    """XAPI-00169 / XAPI-00171: format=ids keeps identifiers; canonical keeps one language."""
    body = make_statement(
        verb={"id": "http://x.lv/v", "display": {"en-US": "did", "lv": "darīja"}},
        object={"id": "http://x.lv/a", "definition": {"name": {"en-US": "A", "lv": "Ā"}}},
    )
    lrs.post("/statements", json=body)
    ids = lrs.get("/statements", params={"format": "ids"}).json()["statements"][0]
    assert ids["actor"] == {"objectType": "Agent", "mbox": "mailto:learner@example.lv"}
    assert ids["verb"] == {"id": "http://x.lv/v"}
    assert ids["object"] == {"id": "http://x.lv/a"}
    canonical = lrs.get(
        "/statements", params={"format": "canonical"}, headers={"Accept-Language": "lv"}
    ).json()["statements"][0]
    assert canonical["verb"]["display"] == {"lv": "darīja"}
    assert canonical["object"]["definition"]["name"] == {"lv": "Ā"}
    activity = lrs.get("/activities", params={"activityId": "http://x.lv/a"}).json()
    assert activity["definition"]["name"] == {"en-US": "A", "lv": "Ā"}


def test_head_answers_like_get_without_body_xapi_00125(lrs: Any, make_statement: Any) -> None:
    """XAPI-00125: HEAD answers as GET does, without the body."""
    lrs.post("/statements", json=make_statement())
    response = lrs.request("HEAD", "/statements")
    assert response.status_code == 200
    assert response.content == b""
    assert "X-Experience-API-Consistent-Through" in response.headers


def test_size_limits_are_413_xapi_00328(lrs: Any, make_statement: Any) -> None:
    """XAPI-00328: a batch or body over the configured limits is 413 and nothing is stored."""
    too_many = [make_statement() for _ in range(51)]
    response = lrs.post("/statements", json=too_many)
    assert response.status_code == 413
    assert response.json()["max_batch_statements"] == 50
    huge = make_statement(result={"response": "x" * 250_000})
    assert lrs.post("/statements", json=huge).status_code == 413
    assert lrs.statements() == []


def test_alternate_request_syntax_1_0_3_xapi_00336(lrs: Any, make_statement: Any) -> None:
    """XAPI-00336 (1.0.x): POST ?method=PUT with the request in a form; refused under 2.0."""
    import json
    from urllib.parse import urlencode

    body = make_statement()
    form = {
        "statementId": body["id"],
        "content": json.dumps(body),
        "X-Experience-API-Version": "1.0.3",
        "Authorization": lrs.basic,
    }
    response = lrs.client.post(
        "/xapi/statements?method=PUT",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 204, response.text
    assert lrs.get("/statements", params={"statementId": body["id"]}).status_code == 200
    form["X-Experience-API-Version"] = "2.0.0"
    refused = lrs.client.post(
        "/xapi/statements?method=PUT",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 400


def test_concurrent_writers_of_one_new_id_never_fail_xapi_00142(
    app: Any, xapi_settings: Any, lrs: Any, make_statement: Any
) -> None:
    """XAPI-00142 under concurrency: many requests storing the same new statement at once all
    succeed and store it once; a different content for that id is a 409, never a 500."""
    import asyncio

    from pilnveide_kit.testing import serve_in_thread

    same = make_statement()
    other = {**same, "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}}
    with serve_in_thread(app) as base_url:

        async def race() -> list[int]:
            async with httpx.AsyncClient(
                base_url=base_url, headers=lrs.headers(), timeout=60
            ) as http:
                answers = await asyncio.gather(
                    *(http.post("/xapi/statements", json=same) for _ in range(10)),
                    *(http.post("/xapi/statements", json=other) for _ in range(2)),
                )
            return [a.status_code for a in answers]

        statuses = asyncio.run(race())
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 409}
    stored = lrs.get("/statements", params={"statementId": same["id"]}).json()
    winner_is_same = stored["verb"]["id"] == same["verb"]["id"]
    assert statuses.count(200) == (10 if winner_is_same else 2)
    assert len(lrs.statements()) == 1
