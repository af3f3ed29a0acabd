"""The audit log: every write and every read of personal data, never a body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from gateway.audit import middleware, writer
from gateway.audit.models import AuditEntry
from gateway.settings import GatewaySettings
from pilnveide_kit.db import make_engine, session_scope

from .conftest import AppFactory

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
    make_app: AppFactory,
    settings: GatewaySettings,
    register: Register,
    get_token: GetToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("audit store down")

    # The store fails: two entries may wait, the third request must store its own or go
    # unanswered.
    monkeypatch.setattr(writer, "write_entries", broken)
    monkeypatch.setattr(middleware, "write_entry", broken)
    failing = settings.model_copy(update={"audit_max_pending": 2, "audit_flush_interval_s": 0.05})
    client_id, secret = register(client_id="hr-vk", name="HR", scopes=["records:read"])
    with TestClient(make_app(failing), raise_server_exceptions=False) as client:
        reader = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}  # 1 waits
        assert client.get("/records/v1/people/p-0", headers=reader).status_code == 200  # 2
        answer = client.get("/records/v1/people/p-1", headers=reader)
        assert answer.status_code == 500
        assert "p-1" not in answer.text and "authorization" not in answer.text
        monkeypatch.undo()  # the store is back: what waited is stored, requests pass again
        assert client.get("/records/v1/people/p-2", headers=reader).status_code == 200
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        paths = [e.path for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.at)))]
    engine.dispose()
    # p-1's entry could not be stored, and p-1 was not answered.
    assert paths == ["/auth/token", "/records/v1/people/p-0", "/records/v1/people/p-2"]


def test_entries_waiting_at_shutdown_are_stored(
    make_app: AppFactory, settings: GatewaySettings, register: Register, get_token: GetToken
) -> None:
    # Nothing is flushed while the app runs (an hour's interval): the shutdown stores it all.
    lazy = settings.model_copy(update={"audit_flush_interval_s": 10, "audit_batch_size": 10_000})
    client_id, secret = register(client_id="hr-vk", name="HR", scopes=["records:read"])
    app = make_app(lazy)
    with TestClient(app) as client:
        reader = {"Authorization": f"Bearer {get_token(client, client_id, secret)}"}
        for n in range(25):
            assert client.get(f"/records/v1/people/p-{n}", headers=reader).status_code == 200
        assert app.state.audit_writer.pending == 26  # the token request and 25 reads
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        stored = session.exec(select(AuditEntry).where(col(AuditEntry.client_id) == "hr-vk"))
        paths = sorted(e.path for e in stored)
    engine.dispose()
    assert paths == sorted(["/auth/token"] + [f"/records/v1/people/p-{n}" for n in range(25)])


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
