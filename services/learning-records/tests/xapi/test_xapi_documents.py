"""State, activity profile and agent profile resources: ETags, preconditions, merge, listing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:learner@example.lv"})
ACTIVITY = "http://example.lv/activities/intro"

#: (path, the parameters naming the document's scope, the document id parameter).
RESOURCES = [
    ("/activities/state", {"activityId": ACTIVITY, "agent": AGENT}, "stateId"),
    ("/activities/profile", {"activityId": ACTIVITY}, "profileId"),
    ("/agents/profile", {"agent": AGENT}, "profileId"),
]


@pytest.fixture(params=RESOURCES, ids=["state", "activity_profile", "agent_profile"])
def resource(request: pytest.FixtureRequest) -> tuple[str, dict[str, str], str]:
    """Each document resource in turn."""
    path, scope, id_name = request.param
    return path, {**scope, id_name: "doc-1"}, id_name


def test_put_get_etag_and_last_modified_xapi_00322(lrs: Any, resource: Any) -> None:
    """XAPI-00322: GET answers the document with a quoted SHA-1 ETag and Last-Modified."""
    path, params, _ = resource
    content = b'{"progress": 0.5}'
    put = lrs.put(
        path,
        params=params,
        content=content,
        headers={"Content-Type": "application/json", "If-None-Match": "*"},
    )
    assert put.status_code == 204, put.text
    got = lrs.get(path, params=params)
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["ETag"] == f'"{hashlib.sha1(content, usedforsecurity=False).hexdigest()}"'
    assert got.headers["Last-Modified"]


def test_preconditions_412_and_409_xapi_00322(lrs: Any, resource: Any) -> None:
    """XAPI-00322: a wrong If-Match or If-None-Match: * on an existing document is 412; a PUT
    with neither header on an existing document is 409 (xAPI 2.0, and profiles in 1.0.3)."""
    lrs.version = "2.0.0"
    path, params, _ = resource
    json_type = {"Content-Type": "application/json"}
    assert (
        lrs.put(path, params=params, json={"a": 1}, headers={"If-None-Match": "*"}).status_code
        == 204
    )
    etag = lrs.get(path, params=params).headers["ETag"]
    assert (
        lrs.put(path, params=params, json={"a": 2}, headers={"If-Match": '"0000"'}).status_code
        == 412
    )
    assert (
        lrs.post(path, params=params, json={"b": 2}, headers={"If-Match": '"0000"'}).status_code
        == 412
    )
    assert lrs.delete(path, params=params, headers={"If-Match": '"0000"'}).status_code == 412
    assert (
        lrs.put(path, params=params, json={"a": 2}, headers={"If-None-Match": "*"}).status_code
        == 412
    )
    conflict = lrs.put(path, params=params, content=b'{"a": 3}', headers=json_type)
    assert conflict.status_code == 409
    assert "If-Match" in conflict.json()["detail"]
    assert lrs.get(path, params=params).json() == {"a": 1}
    assert (
        lrs.put(path, params=params, json={"a": 4}, headers={"If-Match": etag}).status_code == 204
    )
    assert lrs.get(path, params=params).json() == {"a": 4}
    new_etag = lrs.get(path, params=params).headers["ETag"]
    assert lrs.delete(path, params=params, headers={"If-Match": new_etag}).status_code == 204
    assert lrs.get(path, params=params).status_code == 404


@pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
def test_1_0_3_precondition_rules_xapi_00273(
    lrs: Any, path: str, scope: dict[str, str], id_name: str
) -> None:
    """XAPI-00273 / XAPI-00287: 1.0.3 profiles need a precondition header on PUT; state not."""
    params = {**scope, id_name: "doc-2"}
    response = lrs.put(path, params=params, json={"a": 1})
    if path == "/activities/state":
        assert response.status_code == 204
        assert lrs.put(path, params=params, json={"a": 2}).status_code == 204
    else:
        assert response.status_code == 400
        assert lrs.get(path, params=params).status_code == 404


def test_post_merges_json_one_level_xapi_00183(lrs: Any, resource: Any) -> None:
    """XAPI-00183 / XAPI-00184: POST merges JSON objects at the top level, new values win."""
    path, params, _ = resource
    assert (
        lrs.post(path, params=params, json={"a": 1, "nested": {"x": 1, "y": 2}}).status_code == 204
    )
    assert lrs.post(path, params=params, json={"b": 2, "nested": {"z": 3}}).status_code == 204
    assert lrs.get(path, params=params).json() == {"a": 1, "b": 2, "nested": {"z": 3}}


def test_post_refuses_non_json_merge_xapi_00232(lrs: Any, resource: Any) -> None:
    """XAPI-00232 / XAPI-00313 / XAPI-00314: merging non-JSON or invalid JSON is 400."""
    path, params, _ = resource
    lrs.post(path, params=params, json={"a": 1})
    text = {"Content-Type": "text/plain"}
    assert lrs.post(path, params=params, content=b"plain", headers=text).status_code == 400
    broken = {"Content-Type": "application/json"}
    assert lrs.post(path, params=params, content=b"{not json", headers=broken).status_code == 400
    assert lrs.get(path, params=params).json() == {"a": 1}


def test_list_ids_since_and_delete_all_state_xapi_00195(lrs: Any) -> None:
    """XAPI-00195 / XAPI-00193: without stateId, GET lists ids (since filters) and DELETE clears."""
    scope = {"activityId": ACTIVITY, "agent": AGENT}
    for state_id in ("s1", "s2"):
        lrs.put("/activities/state", params={**scope, "stateId": state_id}, json={"v": state_id})
    listed = lrs.get("/activities/state", params=scope)
    assert listed.json() == ["s1", "s2"]
    assert listed.headers["Last-Modified"]
    assert (
        lrs.get("/activities/state", params={**scope, "since": "2100-01-01T00:00:00Z"}).json() == []
    )
    assert lrs.delete("/activities/state", params=scope).status_code == 204
    assert lrs.get("/activities/state", params=scope).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"activityId": "not-an-iri", "agent": AGENT, "stateId": "x"},
        {"activityId": ACTIVITY, "agent": '{"name": "no ifi"}', "stateId": "x"},
        {"activityId": ACTIVITY, "agent": AGENT, "stateId": "x", "registration": "nope"},
        {"agent": AGENT, "stateId": "x"},
    ],
)
def test_state_parameters_validated_xapi_00012(lrs: Any, params: dict[str, str]) -> None:
    """XAPI-00012: document parameters are validated like the same values in statements."""
    assert lrs.put("/activities/state", params=params, json={"a": 1}).status_code == 400


def test_document_over_limit_is_413(lrs: Any) -> None:
    """A document larger than RECORDS_XAPI_MAX_DOCUMENT_BYTES is 413."""
    params = {"activityId": ACTIVITY, "agent": AGENT, "stateId": "big"}
    response = lrs.put("/activities/state", params=params, content=b"x" * 20_000)
    assert response.status_code == 413


def test_agents_resource_person_xapi_00236(lrs: Any) -> None:
    """XAPI-00236 / XAPI-00248: the Agents resource answers a Person object with arrays."""
    person = lrs.get("/agents", params={"agent": AGENT}).json()
    assert person == {"objectType": "Person", "mbox": ["mailto:learner@example.lv"]}
    assert lrs.get("/agents", params={}).status_code == 400
