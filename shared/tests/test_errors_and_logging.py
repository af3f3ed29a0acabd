"""Every 4xx/5xx is problem+json; the request id is taken or generated and echoed; one log line."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


def test_404_unknown_route(client: TestClient) -> None:
    _assert_problem(client.get("/nowhere"), 404)


def test_404_typed_domain_error(client: TestClient) -> None:
    body = _assert_problem(client.get("/notes/999"), 404)
    assert body["detail"] == "No note 999"
    assert body["type"].endswith("/not-found")


def test_405_wrong_method(client: TestClient) -> None:
    body = _assert_problem(client.delete("/notes"), 405)
    assert "DELETE" in body["detail"]


def test_422_names_the_failing_field(client: TestClient) -> None:
    body = _assert_problem(client.post("/notes", json={"text": ""}), 422)
    assert [e["name"] for e in body["errors"]] == ["text"]
    assert body["errors"][0]["location"] == "body"


def test_422_for_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/notes", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_problem(response, 422)


def test_malformed_json_says_where(client: TestClient) -> None:
    body = b'{\n  "text": "a",\n  oops\n}'
    response = client.post("/notes", content=body, headers={"content-type": "application/json"})
    problem = _assert_problem(response, 422)
    assert problem["detail"] == (
        "The request body is not valid JSON: "
        "Expecting property name enclosed in double quotes at line 3, column 3"
    )
    assert problem["errors"] == [
        {"name": "body", "reason": problem["detail"].split(": ", 1)[1], "location": "body"}
    ]
    assert client.get("/notes").json()["data"] == []


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        ({"since": "31.12.2025"}, "since", "YYYY-MM-DD"),
        ({"since": "2025-13-01"}, "since", "YYYY-MM-DD"),
        ({"since": "2025-12-31T10:00:00"}, "since", "YYYY-MM-DD"),
        ({"since": "2025-12-31", "until": "yesterday"}, "until", "YYYY-MM-DDTHH:MM:SS"),
    ],
)
def test_date_errors_name_the_expected_format(
    client: TestClient, query: dict[str, str], name: str, expected: str
) -> None:
    problem = _assert_problem(client.get("/days", params=query), 422)
    assert [e["name"] for e in problem["errors"]] == [name]
    assert expected in problem["errors"][0]["reason"]
    assert query[name] not in str(problem)  # the input itself is never echoed
    assert client.get("/days", params={"since": "2025-12-31"}).status_code == 200


@pytest.mark.parametrize(
    ("prefix", "instance"),
    [
        (None, "/notes/999"),
        ("/catalog", "/catalog/notes/999"),
        ("/catalog/", "/catalog/notes/999"),
        ("javascript:alert(1)", "/notes/999"),  # not a path prefix: ignored
    ],
)
def test_instance_is_the_path_the_caller_used(
    client: TestClient, prefix: str | None, instance: str
) -> None:
    headers = {"X-Forwarded-Prefix": prefix} if prefix else {}
    problem = _assert_problem(client.get("/notes/999", headers=headers), 404)
    assert problem["instance"] == instance
    unknown = _assert_problem(client.get("/nowhere", headers=headers), 404)
    assert unknown["instance"] == instance.replace("/notes/999", "/nowhere")
    assert unknown["detail"] == f"No resource at {unknown['instance']}"


def test_500_hides_internals_and_rolls_back(client: TestClient) -> None:
    body = _assert_problem(client.post("/notes/fail-after-write"), 500)
    assert "boom" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)
    assert client.get("/notes").json()["data"] == []


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_request_id_is_generated_when_missing_or_unsafe(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 40})
    assert unsafe.headers["x-request-id"] != "a b\tc" * 40


def test_problem_responses_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/nowhere", headers={"X-Request-ID": "req-404"})
    assert response.headers["x-request-id"] == "req-404"


def test_one_json_access_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    from pilnveide_kit.logging import JsonFormatter

    with caplog.at_level(logging.INFO, logger="pilnveide.access"):
        client.get("/notes/999", headers={"X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "pilnveide.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter("sample").format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/notes/999"
    assert line["status"] == 404
    assert line["request_id"] == "log-me"
    assert line["duration_ms"] >= 0


def test_text_lines_for_a_person_and_probes_at_debug(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    import re

    from pilnveide_kit.logging import TextFormatter

    with caplog.at_level(logging.DEBUG, logger="pilnveide.access"):
        client.get("/healthz")
        client.get("/notes/999")
    records = [r for r in caplog.records if r.name == "pilnveide.access"]
    assert [(r.path, r.levelno) for r in records] == [  # type: ignore[attr-defined]
        ("/healthz", logging.DEBUG),
        ("/notes/999", logging.INFO),
    ]
    line = TextFormatter().format(records[1])
    assert re.fullmatch(r"\d\d:\d\d:\d\d GET /notes/999 404 [\d.]+ ms", line), line
    warning = logging.LogRecord("svc", logging.WARNING, "", 0, "slow %s", ("query",), None)
    warning.table = "notes"
    assert TextFormatter().format(warning).endswith("WARNING slow query  table=notes")


def test_log_lines_go_to_the_stderr_of_the_moment_not_a_closed_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A test runner swaps sys.stderr and closes the old one; a background task logging later
    # printed "--- Logging error ---" (ValueError: I/O operation on closed file).
    import io
    import sys

    from pilnveide_kit.logging import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging("test", log_format="text")
        logging.getLogger("pilnveide.test").warning("one")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("pilnveide.test").warning("two")
        assert second.getvalue().endswith("WARNING two\n")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
