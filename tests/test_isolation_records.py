"""Two institutions side by side in learning records: B reads, lists, changes, counts and erases
nothing of A's, through the gateway and directly at the service.

A (VK) and B (FM) each write their world through their own restricted client: people links with
display names, employment with roles, enrolments, test results, certificates, feedback,
competency assessments and headcounts. One person works in both (each side holds its own
records of them). Then B attacks: the "claiming" attack (an employment of A's person, then
history, HR pull, counts, erasure and a display-name change), every read with A's codes, every
write with A's source ids, and finally every records route discovered from the app's OpenAPI
document. Each answer is searched for A's data, and A's rows are compared with a snapshot.

The xAPI routes have their own partition tests (services/learning-records/tests/xapi).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from learning_records.main import create_app as create_records
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TestClientTransport, TokenFactory

A, B = "VK", "FM"
A_CODE, SHARED_CODE, B_CODE = (synthetic_personal_code(n) for n in (101, 102, 103))
ADMIN_ID, ADMIN_SECRET = "iso-admin", "iso-admin-secret-0123456789abcdef0123"
WRITER_SCOPES = "records:read records:write"

#: Strings that occur only in A's records: none may reach B in any answer.
A_MARKERS = (
    "hr-vk",
    "lms-vk",
    "vk-emp",
    "Anna Avotiņa",
    "Sandra Ābele",
    "VK-ONLY",
    "vk-analysts",
    "vk-trust",
    "VK-CERT",
    "vk-framework",
    "vk-competency",
)


def _a_items() -> dict[str, list[dict[str, Any]]]:
    """A's world, by write kind (every item names A's institution)."""
    a = {"personal_code": A_CODE, "institution": A}
    shared = {"personal_code": SHARED_CODE, "institution": A}
    lms = {"source_system": "lms-vk"}
    return {
        "people": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-1",
                **a,
                "display_name": "Anna Avotiņa",
            },
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-2",
                **shared,
                "display_name": "Sandra Ābele",
            },
        ],
        "employment": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-1-job",
                **a,
                "sector": "state",
                "position_group": "vk-analysts",
                "valid_from": "2020-01-01",
                "roles": [{"role": "vk-trust-person"}],
            },
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-2-job",
                **shared,
                "sector": "state",
                "valid_from": "2020-01-01",
                "valid_to": "2024-06-30",
            },
        ],
        "enrolments": [
            {
                **lms,
                "external_id": "vk-enr-1",
                **a,
                "course_code": "VK-ONLY-101",
                "status": "completed",
                "completed_on": "2024-03-01",
                "hours": 8,
            },
            {
                **lms,
                "external_id": "vk-enr-2",
                **shared,
                "course_code": "VK-ONLY-101",
                "status": "completed",
                "completed_on": "2024-04-01",
                "hours": 8,
            },
        ],
        "results": [
            {
                **lms,
                "external_id": "vk-test-1",
                **a,
                "course_code": "VK-ONLY-101",
                "attempted_on": "2024-03-01",
                "passed": True,
                "score": 90,
            }
        ],
        "certificates": [
            {
                **lms,
                "external_id": "vk-cert-1",
                **a,
                "course_code": "VK-ONLY-101",
                "certificate_number": "VK-CERT-0001",
                "issued_on": "2024-03-02",
            }
        ],
        "feedback": [
            {
                **lms,
                "external_id": "vk-fb-1",
                **a,
                "course_code": "VK-ONLY-101",
                "kind": "immediate",
                "submitted_on": "2024-03-02",
                "rating": 5,
            }
        ],
        "assessments": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-assess-1",
                **a,
                "framework": "vk-framework",
                "competency": "vk-competency",
                "level": 4,
                "method": "manager",
                "assessed_on": "2024-02-01",
            }
        ],
        "headcounts": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-hc-2024",
                "institution": A,
                "sector": "state",
                "as_of": "2024-01-01",
                "headcount": 400,
            }
        ],
    }


def _b_items() -> dict[str, list[dict[str, Any]]]:
    """B's world: its own employee, and its own records of the person both institutions employ."""
    b = {"personal_code": B_CODE, "institution": B}
    shared = {"personal_code": SHARED_CODE, "institution": B}
    return {
        "people": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-1",
                **b,
                "display_name": "Bruno Kalniņš",
            },
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-2",
                **shared,
                "display_name": "S. Ā. (FM)",
            },
        ],
        "employment": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-1-job",
                **b,
                "sector": "state",
                "valid_from": "2021-01-01",
            },
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-2-job",
                **shared,
                "sector": "state",
                "valid_from": "2024-07-01",
            },
        ],
        "enrolments": [
            {
                "source_system": "lms-fm",
                "external_id": "fm-enr-1",
                **b,
                "course_code": "FM-COURSE-1",
                "status": "completed",
                "completed_on": "2024-05-01",
                "hours": 4,
            }
        ],
        "headcounts": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-hc-2024",
                "institution": B,
                "sector": "state",
                "as_of": "2024-01-01",
                "headcount": 55,
            }
        ],
    }


# --- the stack: the records service, and the gateway in front of it ---------------------------


@dataclass
class Caller:
    """One client, through the gateway (prefix /records) or straight at the service."""

    http: TestClient
    prefix: str
    headers: dict[str, str]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a records path."""
        return self.http.get(self.prefix + path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to a records path."""
        return self.http.post(self.prefix + path, headers=self.headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any method on a records path."""
        return self.http.request(method, self.prefix + path, headers=self.headers, **kwargs)


@dataclass
class Stack:
    """The running apps, the records database, and the callers of each institution."""

    records: TestClient
    gateway: TestClient
    engine: Engine
    a: Caller
    b: Caller
    #: B with every records scope it could hold (direct: even records:erase in its token).
    b_all: Caller
    #: An unrestricted reader (the indicators service, a central analyst).
    central: Caller
    admin: dict[str, str]
    pseudonyms: dict[str, str] = field(default_factory=dict)


def _gateway_token(gateway: TestClient, client_id: str, secret: str, scope: str) -> str:
    answer = gateway.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["gateway", "direct"])
def stack(request: pytest.FixtureRequest, tokens: TokenFactory, tmp_path: Path) -> Iterator[Stack]:
    """A fresh records database and gateway; callers through the gateway or directly."""
    with ExitStack() as exits:
        settings = LearningRecordsSettings(
            database_url=f"sqlite:///{tmp_path / 'records'}.db",
            environment="test",
            auth_jwks_json=tokens.jwks_json,
            auth_jwks_file=None,
        )
        records = exits.enter_context(
            TestClient(create_records(settings), raise_server_exceptions=False)
        )
        gateway_settings = GatewaySettings(
            environment="test",
            database_url=f"sqlite:///{tmp_path / 'gateway'}.db",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
            admin_client_id=ADMIN_ID,
            admin_client_secret=ADMIN_SECRET,
            rate_limit_per_s=10_000.0,
            rate_limit_burst=10_000,
            signing_key_pem=tokens.private_pem,
            signing_kid=tokens.kid,
            catalog_url="http://catalog.iso",
            records_url="http://records.iso",
            indicators_url="http://indicators.iso",
        )
        gateway = exits.enter_context(
            TestClient(
                create_gateway(
                    gateway_settings, upstream_transports={"records": TestClientTransport(records)}
                ),
                raise_server_exceptions=False,
            )
        )
        engine = make_engine(gateway_settings.database_url)
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(gateway_settings), ADMIN_ID, ADMIN_SECRET)
        engine.dispose()
        admin = _bearer(_gateway_token(gateway, ADMIN_ID, ADMIN_SECRET, "admin"))
        secrets: dict[str, str] = {}
        for client_id, scopes, institutions in (
            ("iso-a", WRITER_SCOPES.split(), [A]),
            ("iso-b", WRITER_SCOPES.split(), [B]),
            ("iso-central", ["records:read", "records:erase"], None),
        ):
            created = gateway.post(
                "/admin/clients",
                json={
                    "client_id": client_id,
                    "name": client_id,
                    "scopes": scopes,
                    "institutions": institutions,
                },
                headers=admin,
            )
            assert created.status_code == 201, created.text
            secrets[client_id] = created.json()["client_secret"]
        records_engine: Engine = records.app.state.engine  # type: ignore[attr-defined]
        if request.param == "gateway":

            def caller(client_id: str, scope: str) -> Caller:
                token = _gateway_token(gateway, client_id, secrets[client_id], scope)
                return Caller(gateway, "/records", _bearer(token))

            a, b = caller("iso-a", WRITER_SCOPES), caller("iso-b", WRITER_SCOPES)
            b_all = b
            central = caller("iso-central", "records:read records:erase")
        else:
            a = Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[A]))
            b = Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[B]))
            b_all = Caller(
                records,
                "",
                tokens.headers(WRITER_SCOPES + " records:erase", institutions=[B]),
            )
            central = Caller(records, "", tokens.headers("records:read records:erase"))
        built = Stack(records, gateway, records_engine, a, b, b_all, central, admin)
        _build_worlds(built)
        yield built


def _write_all(caller: Caller, items: dict[str, list[dict[str, Any]]]) -> None:
    for kind, batch in items.items():
        answer = caller.post(f"/v1/{kind}/bulk", json=batch)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["accepted"] == len(batch), answer.text


def _build_worlds(stack: Stack) -> None:
    _write_all(stack.a, _a_items())
    _write_all(stack.b, _b_items())
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
    """Every row of A's, straight from the database."""
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


def _count(caller: Caller, **query: Any) -> Any:
    answer = caller.post("/v1/aggregations/query", json=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- the named attacks ------------------------------------------------------------------------


def test_claiming_attack(stack: Stack) -> None:
    """B records an employment of A's person, then tries every door that used to open."""
    before = a_rows(stack)
    b, pseudonym = stack.b, stack.pseudonyms["a"]
    people_before = _count(b, metric="people")["total"]
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
    central = _count(stack.central, metric="people", filter={"institutions": [B]})
    assert central["total"] == 1

    # Erasure: not a restricted client's to run, with or without records:erase in its token.
    for dry_run in (True, False):
        erased = stack.b_all.post(
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
    for reader in (stack.a, stack.central):
        seen = reader.get(f"/v1/people/{pseudonym}/history").json()["person"]["display_name"]
        assert seen == "Anna Avotiņa"

    assert a_rows(stack) == before
    a_history = stack.a.get(f"/v1/people/{pseudonym}/history").json()
    assert [c["certificate_number"] for c in a_history["certificates"]] == ["VK-CERT-0001"]
    assert "claim-1" not in json.dumps(a_history)  # nor does A see B's records


def test_b_cannot_read_list_or_count_a_data(stack: Stack) -> None:
    """Every read of B's with A's codes and filters answers nothing of A's."""
    b, a_person, shared = stack.b, stack.pseudonyms["a"], stack.pseudonyms["shared"]
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
    a_view = stack.a.get(f"/v1/people/{shared}/history").json()
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

    # The change feed: only the versions of B's own records.
    feed = b.get("/v1/changes", params={"limit": 1000}).json()
    assert feed["count"] == len(feed["data"]), "B's count covers only what B may see"
    assert feed["data"], "B sees its own changes"
    with stack.engine.connect() as connection:
        for change in feed["data"]:
            row = connection.execute(
                text(f"SELECT institution FROM {change['entity']} WHERE id = :id"),
                {"id": int(change["key"])},
            ).one()
            assert row[0] == B, change
    everything = stack.central.get("/v1/changes", params={"limit": 1000}).json()["data"]
    assert len(everything) > len(feed["data"])


def test_b_cannot_change_a_data(stack: Stack) -> None:
    """B writing A's source ids (as its own or as A's institution) changes nothing of A's."""
    before = a_rows(stack)
    for kind, items in _a_items().items():
        for item in items:
            for institution, status in ((B, 403), (A, 404)):
                attempt = {**item, "institution": institution, "update": True}
                answer = stack.b.post(f"/v1/{kind}", json=attempt)
                assert answer.status_code == status, (kind, institution, answer.text)
                assert_no_a_data(answer)
        bulk = stack.b.post(
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
    assert stack.b.post("/v1/enrolments", json=by_link).status_code == 422
    assert a_rows(stack) == before


def test_only_an_unrestricted_client_may_hold_or_use_records_erase(stack: Stack) -> None:
    """The gateway refuses to register a restricted eraser; the service refuses to obey one."""
    for restriction in ({"institutions": [B]}, {"resort": "FM"}):
        created = stack.gateway.post(
            "/admin/clients",
            json={"name": "eraser", "scopes": ["records:erase"], **restriction},
            headers=stack.admin,
        )
        assert created.status_code == 422, created.text
        assert "records:erase" in created.text
    before = a_rows(stack)
    for path, body in (
        ("/v1/privacy/erasure", {"pseudonym": stack.pseudonyms["a"], "dry_run": False}),
        ("/v1/privacy/retention", {"before": "2100-01-01", "dry_run": False}),
    ):
        assert stack.b_all.post(path, json=body).status_code == 403
    assert a_rows(stack) == before
    dry = stack.central.post("/v1/privacy/erasure", json={"personal_code": A_CODE})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["rows"]["certificate"] == 1
    assert a_rows(stack) == before


# --- every route ------------------------------------------------------------------------------


def _query_value(name: str, stack: Stack) -> Any:
    return {
        "institution": A,
        "person": stack.pseudonyms["a"],
        "course_code": "VK-ONLY-101",
        "status": "completed",
        "format": "csv",
    }.get(name)


def _bodies(path: str, stack: Stack) -> list[Any]:
    """What B sends to a POST route: A's codes, ids and items wherever the route takes them."""
    a_items = _a_items()
    if path == "/v1/people/lookup":
        return [{"personal_code": A_CODE}]
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
    kind = path.removeprefix("/v1/").removesuffix("/bulk")
    if kind in a_items:
        forged = [
            {**item, "institution": institution, "update": True}
            for item in a_items[kind]
            for institution in (A, B)
        ]
        return [forged] if path.endswith("/bulk") else forged
    return [{}]


def test_every_records_route_as_b_shows_and_changes_nothing_of_a(stack: Stack) -> None:
    """Each route of the records app (from its OpenAPI document), called by B with A's codes."""
    document = stack.records.app.openapi()  # type: ignore[attr-defined]
    before = a_rows(stack)
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
                    value = A if name == "institution" else stack.pseudonyms["a"]
                    url = url.replace("{" + name + "}", value)
                elif parameter["in"] == "query" and _query_value(name, stack) is not None:
                    query[name] = _query_value(name, stack)
            bodies = _bodies(path, stack) if method in ("post", "put", "patch") else [None]
            for body in bodies:
                answer = stack.b_all.request(
                    method.upper(), url, params=query, json=body if body is not None else None
                )
                assert answer.status_code < 500, f"{method} {url}: {answer.text[:300]}"
                assert_no_a_data(answer, stack.pseudonyms["a"])
                called += 1
    assert called > 20, "the routes must be found"
    assert a_rows(stack) == before
