"""Hostile input, case by case: each gets a 4xx problem+json and changes nothing stored.

Every service runs in its own server on its own database (SQLite, and PostgreSQL when it is
reachable: NUL in text is what PostgreSQL refuses), the gateway in front of them. Each case is
sent straight to its service and through the gateway; before and after, every table of every
service (and the gateway's, but its audit log) is counted, and the counts must not move.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from catalog.main import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from indicators.main import create_app as create_indicators
from indicators.settings import IndicatorsSettings
from learning_records.main import create_app as create_records
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TokenFactory, serve_in_thread, temporary_database

ADMIN_ID, ADMIN_SECRET = "hostile-admin", "hostile-admin-secret-0123456789abcdef"
ALL_SCOPES = (
    "catalog:read catalog:write records:read records:write indicators:read indicators:write "
    "xapi:read xapi:write admin"
)
PREFIXES = {"catalog": "/catalog", "records": "/records", "indicators": "/indicators"}
XAPI = {"X-Experience-API-Version": "1.0.3"}
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:learner@example.lv"})
STATE = f"/xapi/activities/state?activityId=http://example.lv/a&stateId=s1&agent={AGENT}"
DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def _cursor(key: dict[str, Any] | str) -> str:
    raw = key if isinstance(key, str) else json.dumps(key)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _enrolment(number: int, **overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "source_system": "mps",
        "external_id": f"enr-{number}",
        "personal_code": synthetic_personal_code(number),
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-03-01",
        "hours": 8,
    }
    item.update(overrides)
    return item


def _statement(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.lv", "name": "Learner"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.lv/activities/intro", "objectType": "Activity"},
    }
    body.update(overrides)
    return body


@dataclass(frozen=True)
class Case:
    """One hostile request: where it goes, what it carries, what must come back."""

    name: str
    owner: str  # catalog, records, indicators, or gateway (its own routes)
    method: str
    path: str  # as the owner sees it (xAPI paths keep their /xapi prefix)
    body: bytes | None = None
    content_type: str = "application/json"
    status: int | None = None  # None: any 4xx
    mentions: str | None = None  # a name the problem must mention
    headers: dict[str, str] = field(default_factory=dict)
    direct: bool = True
    via_gateway: bool = True

    def __str__(self) -> str:
        return self.name


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = [
    # --- text PostgreSQL or JSON cannot round-trip: 422 naming the field ---
    Case(
        "nul-in-enrolment-external-id",
        "records",
        "POST",
        "/v1/enrolments",
        _json(_enrolment(1, external_id="a\u0000b")),
        status=422,
        mentions="external_id",
    ),
    Case(
        "nul-in-bulk-item",
        "records",
        "POST",
        "/v1/enrolments/bulk",
        _json([_enrolment(2), _enrolment(3, course_code="X\u0000")]),
        status=422,
        mentions="course_code",
    ),
    Case(
        "nul-in-query-parameter",
        "records",
        "GET",
        "/v1/enrolments?cursor=a%00b",
        status=422,
        mentions="cursor",
    ),
    Case("nul-in-path", "catalog", "GET", "/v1/courses/%00", via_gateway=False, status=422),
    Case(
        "lone-surrogate-in-catalog-title",
        "catalog",
        "POST",
        "/v1/courses",
        b'{"code": "HOSTILE-1", "title": {"lv": "\\ud800"}, "format": "online"}',
        status=422,
        mentions="title",
    ),
    Case(
        "nul-in-xapi-actor-name",
        "records",
        "POST",
        "/xapi/statements",
        _json(_statement(actor={"mbox": "mailto:a@example.lv", "name": "a\u0000b"})),
        status=422,
        mentions="actor",
        headers=XAPI,
    ),
    Case(
        "lone-surrogate-in-xapi-actor-name",
        "records",
        "POST",
        "/xapi/statements",
        _json(_statement()).replace(b'"Learner"', b'"\\udc00"'),
        status=422,
        mentions="actor",
        headers=XAPI,
    ),
    Case(
        "nul-escaped-in-xapi-agent-parameter",
        "records",
        "PUT",
        STATE.replace("mailto:learner@example.lv", "mailto:learner@example.lv\\u0000")
        .replace("{", "%7B")
        .replace("}", "%7D"),
        b'{"progress": 1}',
        status=422,
        mentions="agent",
        headers=XAPI,
    ),
    Case(
        "nul-in-audit-client-id",
        "gateway",
        "GET",
        "/admin/audit?client_id=a%00b",
        status=422,
        mentions="client_id",
    ),
    # --- JSON bounded before it is trusted: depth, duplicate keys, NaN ---
    Case("deep-json-bulk", "records", "POST", "/v1/enrolments/bulk", DEEP, status=400),
    Case(
        "deep-ndjson-bulk",
        "records",
        "POST",
        "/v1/enrolments/bulk",
        DEEP + b"\n",
        content_type="application/x-ndjson",
        status=400,
    ),
    Case(
        "deep-xapi-statement",
        "records",
        "POST",
        "/xapi/statements",
        DEEP_OBJECT,
        status=400,
        headers=XAPI,
    ),
    Case("deep-xapi-state-merge", "records", "POST", STATE, DEEP_OBJECT, status=400, headers=XAPI),
    Case(
        "nan-in-xapi-document",
        "records",
        "PUT",
        STATE,
        b'{"progress": NaN}',
        status=400,
        headers=XAPI,
    ),
    Case(
        "duplicate-keys-make-no-admin",
        "gateway",
        "POST",
        "/admin/clients",
        b'{"client_id": "dup", "name": "dup", "scopes": ["catalog:read"], "scopes": ["admin"]}',
        status=400,
    ),
    Case(
        "duplicate-keys-in-enrolment",
        "records",
        "POST",
        "/v1/enrolments",
        _json(_enrolment(4))[:-1] + b', "hours": 99}',
        status=400,
    ),
    # --- integers and cursors validated before any query ---
    Case(
        "change-feed-after-beyond-bigint",
        "records",
        "GET",
        "/v1/changes?after=9223372036854775808",
        status=422,
    ),
    *[
        Case(
            f"{owner}{path.replace('/', '-')}-cursor-{label}",
            owner,
            "GET",
            f"{path}?cursor={_cursor(key)}",
            status=400,
        )
        for owner, path in (
            ("records", "/v1/enrolments"),
            ("catalog", "/v1/institutions"),
            ("catalog", "/v1/measures"),
            ("gateway", "/admin/audit"),
        )
        for label, key in (
            ("float-1e30", '{"id": 1e30, "code": 1e30, "p": 1e30, "s": 1e30}'),
            ("null", {"id": None, "code": None, "p": None, "s": None}),
            ("sql", {"id": "1 OR 1=1", "code": 7, "p": 7, "s": "x"}),
        )
    ],
    Case(
        "xapi-more-token-a-1e20",
        "records",
        "GET",
        "/xapi/statements?more=" + _cursor('{"p": {}, "a": 1e20, "b": 1}'),
        status=400,
        headers=XAPI,
    ),
    Case(
        "indicator-version-beyond-int32",
        "indicators",
        "GET",
        "/v1/definitions/1.1.1?version=99999999999",
        status=422,
    ),
    # --- oversize values caught by limits that match the columns ---
    Case(
        "xapi-activity-id-of-1-mb",
        "records",
        "POST",
        "/xapi/statements",
        _json(_statement(object={"id": "http://example.lv/" + "a" * 1_000_000})),
        status=400,
        headers=XAPI,
    ),
    Case(
        "aggregation-filter-of-100000-institutions",
        "records",
        "POST",
        "/v1/aggregations/query",
        _json({"metric": "people", "filter": {"institutions": [f"I{n}" for n in range(100_000)]}}),
        status=422,
        mentions="institutions",
    ),
    # --- unknown things are not found, not an outage ---
    Case("unknown-plan-progress", "indicators", "GET", "/v1/plan/progress?plan=NOPE", status=404),
    # --- paths the gateway cannot forward ---
    Case("proxied-form-feed", "catalog", "GET", "/v1/courses/%0C", direct=False, status=400),
    Case("proxied-soh", "records", "GET", "/v1/hr/%01/updates", direct=False, status=400),
    Case("proxied-double-slash", "records", "GET", "//v1/changes", direct=False, status=400),
    Case(  # audited (a write): the audit log stores the path without its NUL
        "proxied-nul-in-a-write",
        "catalog",
        "POST",
        "/v1/courses/%00/archive",
        status=400,
        direct=False,
    ),
]


@dataclass
class Stack:
    """The running services, the gateway in front of them, and how to count what they store."""

    direct: dict[str, httpx.Client]
    apps: dict[str, FastAPI]
    gateway: TestClient
    gateway_app: FastAPI
    tokens: TokenFactory
    gateway_token: str

    def counts(self) -> dict[str, int]:
        """Rows of every table of every service (the gateway's audit log aside)."""
        found: dict[str, int] = {}
        for name, app in {**self.apps, "gateway": self.gateway_app}.items():
            engine = app.state.engine
            with engine.connect() as connection:
                for table in inspect(connection).get_table_names():
                    if table in ("alembic_version", "audit_entry"):
                        continue
                    count = connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
                    found[f"{name}.{table}"] = int(count or 0)
        return found


def _service_settings(settings_class: type[Any], url: str, tokens: TokenFactory) -> Any:
    return settings_class(
        database_url=url, environment="test", auth_jwks_json=tokens.jwks_json, auth_jwks_file=None
    )


@pytest.fixture(scope="module")
def stack(
    backend: str, tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Catalog, learning-records and indicators served over HTTP; the gateway before them."""
    workdir: Path = tmp_path_factory.mktemp("hostile")
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(temporary_database(backend, workdir, f"hostile_{name}"))
            for name in ("catalog", "records", "indicators", "gateway")
        }
        apps: dict[str, FastAPI] = {
            "catalog": create_catalog(_service_settings(CatalogSettings, urls["catalog"], tokens)),
            "records": create_records(
                _service_settings(LearningRecordsSettings, urls["records"], tokens)
            ),
        }
        served = {name: stack.enter_context(serve_in_thread(app)) for name, app in apps.items()}
        indicators = _service_settings(IndicatorsSettings, urls["indicators"], tokens)
        indicators = indicators.model_copy(
            update={
                "catalog_url": served["catalog"],
                "records_url": served["records"],
                "service_token": tokens.token("catalog:read records:read", lifetime_s=3600),
            }
        )
        apps["indicators"] = create_indicators(indicators)
        served["indicators"] = stack.enter_context(serve_in_thread(apps["indicators"]))
        direct = {
            name: stack.enter_context(httpx.Client(base_url=url)) for name, url in served.items()
        }
        gateway_settings = GatewaySettings(
            environment="test",
            database_url=urls["gateway"],
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
            admin_client_id=ADMIN_ID,
            admin_client_secret=ADMIN_SECRET,
            rate_limit_per_s=10_000.0,
            rate_limit_burst=10_000,
            signing_key_pem=tokens.private_pem,
            signing_kid=tokens.kid,
            catalog_url=served["catalog"],
            records_url=served["records"],
            indicators_url=served["indicators"],
        )
        gateway_app = create_gateway(gateway_settings)
        gateway = stack.enter_context(TestClient(gateway_app, raise_server_exceptions=False))
        engine = make_engine(gateway_settings.database_url)
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(gateway_settings), ADMIN_ID, ADMIN_SECRET)
        engine.dispose()
        answer = gateway.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": ALL_SCOPES},
            auth=(ADMIN_ID, ADMIN_SECRET),
        )
        assert answer.status_code == 200, answer.text
        yield Stack(direct, apps, gateway, gateway_app, tokens, str(answer.json()["access_token"]))


def _send(stack: Stack, case: Case, through_gateway: bool) -> httpx.Response:
    headers = {**case.headers}
    if case.body is not None:
        headers["Content-Type"] = case.content_type
    if through_gateway:
        headers["Authorization"] = f"Bearer {stack.gateway_token}"
        path = case.path
        if case.owner in PREFIXES and not case.path.startswith("/xapi"):
            path = PREFIXES[case.owner] + case.path
        return stack.gateway.request(case.method, path, content=case.body, headers=headers)
    if case.owner == "gateway":
        headers["Authorization"] = f"Bearer {stack.gateway_token}"
        return stack.gateway.request(case.method, case.path, content=case.body, headers=headers)
    headers["Authorization"] = f"Bearer {stack.tokens.token(ALL_SCOPES)}"
    client = stack.direct[case.owner]
    return client.request(case.method, case.path, content=case.body, headers=headers)


ROUTES = [
    pytest.param(case, through, id=f"{case.name}-{'gateway' if through else 'direct'}")
    for case in CASES
    for through in (False, True)
    if (case.via_gateway if through else case.direct) and not (case.owner == "gateway" and through)
]


@pytest.mark.parametrize(("case", "through_gateway"), ROUTES)
def test_hostile_input_is_a_4xx_problem_and_changes_nothing(
    stack: Stack, case: Case, through_gateway: bool
) -> None:
    before = stack.counts()
    answer = _send(stack, case, through_gateway)
    where = f"{case} ({'gateway' if through_gateway else 'direct'}): {answer.text[:400]}"
    assert 400 <= answer.status_code < 500, where
    if case.status is not None:
        assert answer.status_code == case.status, where
    assert answer.headers["content-type"].startswith("application/problem+json"), where
    if case.mentions is not None:
        assert case.mentions in answer.text, where
    assert stack.counts() == before, where


def test_well_formed_writes_still_land(stack: Stack) -> None:
    """The boundary refuses only what it must: the same shapes, made harmless, are stored."""
    before = stack.counts()
    headers = {"Authorization": f"Bearer {stack.gateway_token}", **XAPI}
    written = stack.gateway.post("/xapi/statements", json=[_statement()], headers=headers)
    assert written.status_code == 200, written.text
    state = stack.gateway.put(STATE, json={"progress": 0.5}, headers=headers)
    assert state.status_code == 204, state.text
    after = stack.counts()
    assert after != before
