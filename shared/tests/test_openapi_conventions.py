"""The OpenAPI conventions every service gets from the kit's app factory (pilnveide_kit.openapi):
clean operation ids, problem+json errors with one Problem schema, declared header rules, CSV
exports as operations of their own, and a 405's Allow naming every method of the path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.openapi import check_operation_ids


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def test_operation_ids_are_the_route_functions_names(document: dict[str, Any]) -> None:
    ids = {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert ids[("get", "/notes")] == "list_notes"
    assert ids[("get", "/notes/{note_id}")] == "get_note"
    assert ids[("get", "/notes.csv")] == "list_notes_csv"
    assert check_operation_ids(document) == []


def test_errors_are_problem_json_with_the_statuses_a_route_answers(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "InvalidParam"} <= set(schemas)
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    secure = document["paths"]["/secure"]["get"]["responses"]
    assert {"401", "403", "503"} <= set(secure) and "404" not in secure
    one = document["paths"]["/notes/{note_id}"]["get"]["responses"]
    assert {"404", "422"} <= set(one)
    assert one["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    assert one["404"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    for item in document["paths"].values():
        for operation in item.values():
            for code, answer in operation["responses"].items():
                if code[0] in "45":
                    assert list(answer["content"]) == ["application/problem+json"]


def test_if_match_is_declared_required_with_its_problems(document: dict[str, Any]) -> None:
    update = document["paths"]["/notes/{note_id}"]["patch"]
    if_match = next(p for p in update["parameters"] if p["name"] == "if-match")
    assert if_match["required"] is True
    assert {"412", "428"} <= set(update["responses"])


def test_csv_twin_is_text_csv_only_and_answers_csv(
    client: TestClient, document: dict[str, Any]
) -> None:
    twin = document["paths"]["/notes.csv"]["get"]
    assert list(twin["responses"]["200"]["content"]) == ["text/csv"]
    assert "format" not in {p["name"] for p in twin.get("parameters", [])}
    listing = document["paths"]["/notes"]["get"]
    assert list(listing["responses"]["200"]["content"]) == ["application/json", "text/csv"]
    for text in ("a", 'b, "c"'):
        client.post("/notes", json={"text": text})
    answer = client.get("/notes.csv", params={"limit": 1})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="notes.csv"'
    assert answer.text.splitlines() == ["id,text", "1,a"]
    quoted = ["1,a", '2,"b, ""c"""']  # csv_response quotes as RFC 4180 says
    assert client.get("/notes", params={"format": "csv"}).text.splitlines()[1:] == quoted
    accept = client.get("/notes", headers={"Accept": "text/csv"})
    assert accept.text.splitlines()[1:] == quoted
    assert client.get("/notes").json()["count"] == 2


def test_405_allow_names_every_method_of_the_path(client: TestClient) -> None:
    answer = client.delete("/notes/1")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PATCH"
    assert answer.headers["content-type"] == "application/problem+json"
    assert client.put("/notes").headers["allow"] == "GET, POST"
