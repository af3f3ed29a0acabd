"""Two institutions' worlds side by side: the stack the isolation tests share.

A (VK) and B (FM) each write their world (tests/world_items.py) through their own restricted
client; the courses are tagged to measure 1.6, so indicator 1.6.1 counts them. The stack:
learning-records, the indicators service reading it (and a seeded catalog) with its own
unrestricted service client, and the gateway before both (tests/inprocess.py). The callers of
each institution go through the gateway (with tokens from its /auth/token) or straight at the
services (with tokens of the test key); `two_worlds` builds either, and tests/conftest.py's
`worlds` fixture gives both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from learning_records.main import create_app as create_records
from pilnveide_kit.testing import TokenFactory

from .inprocess import (
    bearer,
    gateway_before,
    gateway_token,
    indicators_over,
    records_settings,
    register_clients,
)
from .world_items import (
    A_CODE,
    A_MARKERS,
    B_CODE,
    INDICATOR,
    INDICATOR_SCOPES,
    MEASURE_TAG,
    SHARED_CODE,
    WRITER_SCOPES,
    A,
    B,
    a_items,
    b_items,
)

# --- the two worlds ---------------------------------------------------------------------------


@dataclass
class Caller:
    """One client, through the gateway (with a service's prefix) or straight at the service."""

    http: TestClient
    prefix: str
    headers: dict[str, str]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a path of the service."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to a path of the service."""
        return self.request("POST", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any method on a path of the service (extra headers added to the caller's)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, self.prefix + path, headers=headers, **kwargs)


@dataclass
class Stack:
    """The running apps, their databases, and the callers of each institution."""

    records: TestClient
    indicators: TestClient
    gateway: TestClient
    engine: Engine
    indicators_engine: Engine
    a: Caller
    b: Caller
    #: B with every records scope it could hold (direct: even records:erase in its token).
    b_all: Caller
    #: An unrestricted records reader (the indicators service, a central analyst).
    central: Caller
    #: B's and an unrestricted client's indicators callers, with every indicators scope.
    b_indicators: Caller
    central_indicators: Caller
    admin: dict[str, str]
    pseudonyms: dict[str, str] = field(default_factory=dict)


@contextmanager
def two_worlds(
    tokens: TokenFactory,
    workdir: Path,
    *,
    through_gateway: bool,
    catalog: TestClient,
    indicators_url: str,
) -> Iterator[Stack]:
    """A fresh records database, indicators over it, the gateway; A's and B's worlds written."""
    with ExitStack() as exits:
        records = exits.enter_context(
            TestClient(
                create_records(records_settings(f"sqlite:///{workdir / 'records'}.db", tokens)),
                raise_server_exceptions=False,
            )
        )
        indicators = exits.enter_context(indicators_over(indicators_url, tokens, records, catalog))
        gateway, admin = exits.enter_context(
            gateway_before(tokens, workdir, {"records": records, "indicators": indicators})
        )
        secrets = register_clients(
            gateway,
            admin,
            [
                ("iso-a", WRITER_SCOPES.split(), [A]),
                ("iso-b", WRITER_SCOPES.split(), [B]),
                ("iso-central", ["records:read", "records:erase"], None),
                ("iso-b-indicators", INDICATOR_SCOPES.split(), [B]),
                ("iso-central-indicators", INDICATOR_SCOPES.split(), None),
            ],
        )
        if through_gateway:

            def caller(client_id: str, scope: str, prefix: str = "/records") -> Caller:
                token = gateway_token(gateway, client_id, secrets[client_id], scope)
                return Caller(gateway, prefix, bearer(token))

            a, b = caller("iso-a", WRITER_SCOPES), caller("iso-b", WRITER_SCOPES)
            b_all = b
            central = caller("iso-central", "records:read records:erase")
            b_ind = caller("iso-b-indicators", INDICATOR_SCOPES, "/indicators")
            central_ind = caller("iso-central-indicators", INDICATOR_SCOPES, "/indicators")
        else:
            a = Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[A]))
            b = Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[B]))
            b_all = Caller(
                records, "", tokens.headers(WRITER_SCOPES + " records:erase", institutions=[B])
            )
            central = Caller(records, "", tokens.headers("records:read records:erase"))
            b_ind = Caller(indicators, "", tokens.headers(INDICATOR_SCOPES, institutions=[B]))
            central_ind = Caller(indicators, "", tokens.headers(INDICATOR_SCOPES))
        stack = Stack(
            records=records,
            indicators=indicators,
            gateway=gateway,
            engine=records.app.state.engine,  # type: ignore[attr-defined]
            indicators_engine=indicators.app.state.engine,  # type: ignore[attr-defined]
            a=a,
            b=b,
            b_all=b_all,
            central=central,
            b_indicators=b_ind,
            central_indicators=central_ind,
            admin=admin,
        )
        _build_worlds(stack, tokens)
        yield stack


def write_all(caller: Caller, items: dict[str, list[dict[str, Any]]]) -> None:
    """Bulk-write every kind of items; each one must be accepted."""
    for kind, batch in items.items():
        answer = caller.post(f"/v1/{kind}/bulk", json=batch)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["accepted"] == len(batch), answer.text


def _build_worlds(stack: Stack, tokens: TokenFactory) -> None:
    write_all(stack.a, a_items())
    write_all(stack.b, b_items())
    # Reference data, not either institution's: the courses' programme tag (an admin's write).
    tags = [
        {"source_system": "catalog", "external_id": course, "course_code": course, "tag": tag}
        for course, tag in (("VK-ONLY-101", MEASURE_TAG), ("FM-COURSE-1", MEASURE_TAG))
    ]
    tagged = stack.records.post(
        "/v1/course-tags/bulk", json=tags, headers=tokens.headers("records:write")
    )
    assert tagged.status_code == 200 and tagged.json()["counts"]["accepted"] == 2, tagged.text
    for name, code, caller in (
        ("a", A_CODE, stack.a),
        ("shared", SHARED_CODE, stack.a),
        ("b", B_CODE, stack.b),
    ):
        found = caller.post("/v1/people/lookup", json={"personal_code": code})
        assert found.status_code == 200, found.text
        stack.pseudonyms[name] = found.json()["pseudonym"]


# --- what B must never see or change ----------------------------------------------------------

#: A's rows, table by table (roles and status steps through their parents).
_SNAPSHOT_QUERIES = {
    table: f"SELECT * FROM {table} WHERE institution = :a ORDER BY id"
    for table in (
        "person_link",
        "employment",
        "enrolment",
        "test_attempt",
        "certificate",
        "feedback",
        "competency_assessment",
        "headcount",
    )
} | {
    "role_assignment": "SELECT * FROM role_assignment WHERE employment_id IN "
    "(SELECT id FROM employment WHERE institution = :a) ORDER BY id",
    "enrolment_status_change": "SELECT * FROM enrolment_status_change WHERE enrolment_id IN "
    "(SELECT id FROM enrolment WHERE institution = :a) ORDER BY id",
    "person": "SELECT * FROM person WHERE id IN (SELECT person_id FROM enrolment "
    "WHERE institution = :a) ORDER BY id",
}


def a_rows(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of A's, straight from the records database."""
    with stack.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(sql), {"a": A})]
            for table, sql in _SNAPSHOT_QUERIES.items()
        }


def assert_no_a_data(answer: httpx.Response, *extra_markers: str) -> None:
    """No string of A's records in an answer (a problem's `instance` echoes the path: ignored)."""
    body = answer.text
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        problem = answer.json()
        problem.pop("instance", None)
        body = json.dumps(problem, ensure_ascii=False)
    leaked = [m for m in (*A_MARKERS, *extra_markers) if m in body]
    assert leaked == [], f"{answer.request.method} {answer.request.url}: {leaked} in {body[:500]}"


def learners_counted(caller: Caller) -> tuple[float | None, dict[str, float | None]]:
    """Indicator 1.6.1 for 2024 as a caller reads it: its value, and its rows by institution."""
    answer = caller.get(
        f"/v1/indicators/{INDICATOR}",
        params={"as_of": "2024-12-31", "period": "2024", "breakdown": "institution"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = {
        row["key"]: row["value"]
        for breakdown in body["breakdowns"]
        if breakdown["dimension"] == "institution"
        for row in breakdown["rows"]
    }
    return body["value"], rows
