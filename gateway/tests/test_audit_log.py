"""The audit log: every write and every read of personal data, never a body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.audit import middleware

Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]


def _entries(client: TestClient, admin_headers: dict[str, str], **params: Any) -> list[Any]:
    answer = client.get("/admin/audit", params=params, headers=admin_headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.fixture
def reader(client: TestClient, register: Register, get_token: GetToken) -> dict[str, str]:
    client_id, secret = register(client_id="hr-vk", name="HR", scopes=["records:read"])
    return {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}


def test_personal_data_read_is_audited_with_who_what_and_request_id(
    client: TestClient, admin_headers: dict[str, str], reader: dict[str, str]
) -> None:
    answer = client.get(
        "/records/v1/people/p-1?name=Jānis", headers={**reader, "X-Request-ID": "req-42"}
    )
    assert answer.status_code == 200
    entry = _entries(client, admin_headers, client_id="hr-vk")[0]  # newest first
    assert entry["method"] == "GET" and entry["path"] == "/records/v1/people/p-1"
    assert entry["status"] == 200 and entry["request_id"] == "req-42"
    assert "Jānis" not in str(entry)  # query strings may be personal: never stored


def test_writes_are_audited_and_other_reads_are_not(
    client: TestClient, admin_headers: dict[str, str], reader: dict[str, str]
) -> None:
    client.get("/catalog/v1/plans", headers=reader)
    client.post("/catalog/v1/plans", json={"secret": "body"}, headers=reader)
    entries = _entries(client, admin_headers, client_id="hr-vk")
    assert [(e["method"], e["path"]) for e in entries] == [
        ("POST", "/catalog/v1/plans"),
        ("POST", "/auth/token"),
    ]
    assert "body" not in str(entries)


def test_refused_personal_data_reads_are_audited_without_a_client(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.get("/xapi/statements").status_code == 401
    entries = [e for e in _entries(client, admin_headers) if e["path"] == "/xapi/statements"]
    assert [(e["client_id"], e["status"]) for e in entries] == [(None, 401)]


def test_a_request_that_cannot_be_audited_is_not_answered(
    client: TestClient, reader: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(middleware, "write_entry", broken)
    answer = client.get("/records/v1/people/p-1", headers=reader)
    assert answer.status_code == 500
    assert "p-1" not in answer.text and "authorization" not in answer.text


def test_audit_log_pages_newest_first(
    client: TestClient, admin_headers: dict[str, str], reader: dict[str, str]
) -> None:
    for n in range(3):
        client.get(f"/records/v1/people/p-{n}", headers=reader)
    first = client.get("/admin/audit", params={"limit": 2}, headers=admin_headers).json()
    second = client.get(
        "/admin/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin_headers
    ).json()
    ids = [e["id"] for e in first["data"] + second["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert first["data"][0]["path"] == "/records/v1/people/p-2"


def test_audit_log_needs_admin(client: TestClient, reader: dict[str, str]) -> None:
    assert client.get("/admin/audit", headers=reader).status_code == 403
