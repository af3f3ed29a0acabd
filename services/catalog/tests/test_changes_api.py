"""The change feed a catalog copy follows, and the version that tells it is stale."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pilnveide_kit.pagination import encode_cursor


def test_the_version_moves_on_every_write_and_the_feed_resumes_after_it(
    seeded: TestClient, reader: dict[str, str], writer: dict[str, str]
) -> None:
    head = seeded.get("/v1/changes/head", headers=reader)
    assert head.status_code == 200
    version = head.json()["version"]
    assert version > 0 and head.headers["etag"] == f'"{version}"'
    lists = seeded.get(
        "/v1/changes", params={"entity": "reference_list", "limit": 50}, headers=reader
    ).json()["data"]
    roles = next(c for c in lists if c["entity_code"] == "roles")
    assert "trust_person" in {item["code"] for item in roles["snapshot"]["items"]}

    course = {
        "code": "ETHICS-NEW",
        "title": {"lv": "Ētika"},
        "format": "workshop",
        "measures": ["1.1"],
    }
    assert seeded.post("/v1/courses", json=course, headers=writer).status_code == 201
    after = seeded.get("/v1/changes/head", headers=reader).json()["version"]
    assert after == version + 1
    newer = seeded.get(
        "/v1/changes", params={"cursor": encode_cursor({"id": version})}, headers=reader
    ).json()["data"]
    assert [(c["entity"], c["entity_code"]) for c in newer] == [("course", "ETHICS-NEW")]
    assert "measure:1.1" in newer[0]["snapshot"]["tags"]


def test_the_version_needs_the_read_scope(seeded: TestClient) -> None:
    assert seeded.get("/v1/changes/head").status_code == 401
