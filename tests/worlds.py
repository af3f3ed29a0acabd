"""Two institutions' worlds side by side: the stack the isolation tests share.

A (VK) and B (FM) each write their world through their own restricted client: people links with
display names, employment with roles, enrolments, test results, certificates, feedback,
competency assessments and headcounts. One person works in both (each side holds its own
records of them). The courses are tagged to measure 1.6, so indicator 1.6.1 counts them.

The stack: learning-records, the indicators service reading it (and a seeded catalog) with its
own unrestricted service client, and the gateway before both. The callers of each institution
go through the gateway (with tokens from its /auth/token) or straight at the services (with
tokens of the test key); `two_worlds` builds either.

The gateway helpers (settings, admin bootstrap, client registration, tokens) serve every test
module that puts a gateway before in-process services.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from catalog.loader.run import SEED_DIR, load_all
from catalog.main import create_app as create_catalog
from catalog.main import migrations as catalog_migrations
from catalog.settings import CatalogSettings
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from indicators.cli import load as load_indicator_defaults
from indicators.main import create_app as create_indicators
from indicators.main import migrations as indicators_migrations
from indicators.settings import IndicatorsSettings
from indicators.sources.http import HttpCatalogSource, HttpRecordsSource, ServiceToken
from learning_records.main import create_app as create_records
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TestClientTransport, TokenFactory

A, B = "VK", "FM"
A_CODE, SHARED_CODE, B_CODE = (synthetic_personal_code(n) for n in (101, 102, 103))
ADMIN_ID, ADMIN_SECRET = "iso-admin", "iso-admin-secret-0123456789abcdef0123"
WRITER_SCOPES = "records:read records:write"
#: Every indicators scope B could hold (admin for explain; the writes are still refused).
INDICATOR_SCOPES = "indicators:read indicators:write admin"
#: The measure A's and B's courses are tagged to, and the indicator that counts its learners.
MEASURE_TAG, INDICATOR = "measure:1.6", "1.6.1"

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


def a_items() -> dict[str, list[dict[str, Any]]]:
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


def b_items() -> dict[str, list[dict[str, Any]]]:
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


# --- the gateway before in-process services ---------------------------------------------------


def gateway_settings(tokens: TokenFactory, database_url: str, **changes: Any) -> GatewaySettings:
    """Test settings: cheap hashing, a rate limit no test reaches, the test signing key."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "admin_client_id": ADMIN_ID,
        "admin_client_secret": ADMIN_SECRET,
        "rate_limit_per_s": 10_000.0,
        "rate_limit_burst": 10_000,
        "signing_key_pem": tokens.private_pem,
        "signing_kid": tokens.kid,
        "catalog_url": "http://catalog.iso",
        "records_url": "http://records.iso",
        "indicators_url": "http://indicators.iso",
    }
    return GatewaySettings(**(values | changes))


def bootstrap_admin(settings: GatewaySettings) -> None:
    """Register the settings' admin client in the gateway's database."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(settings), ADMIN_ID, ADMIN_SECRET)
    finally:
        engine.dispose()


def gateway_token(gateway: TestClient, client_id: str, secret: str, scope: str) -> str:
    """An access token from the gateway's /auth/token (client credentials, HTTP Basic)."""
    answer = gateway.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    """Authorization headers carrying a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def register_clients(
    gateway: TestClient,
    admin: Mapping[str, str],
    clients: Iterable[tuple[str, Iterable[str], list[str] | None]],
) -> dict[str, str]:
    """Register API clients (id, scopes, institutions or None); their secrets by id."""
    secrets: dict[str, str] = {}
    for client_id, scopes, institutions in clients:
        created = gateway.post(
            "/admin/clients",
            json={
                "client_id": client_id,
                "name": client_id,
                "scopes": list(scopes),
                "institutions": institutions,
            },
            headers=dict(admin),
        )
        assert created.status_code == 201, created.text
        secrets[client_id] = created.json()["client_secret"]
    return secrets


@contextmanager
def gateway_before(
    tokens: TokenFactory, workdir: Path, upstreams: Mapping[str, TestClient]
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The gateway on SQLite before in-process services; it and its admin's bearer headers."""
    settings = gateway_settings(tokens, f"sqlite:///{workdir / 'gateway'}.db")
    transports = {name: TestClientTransport(client) for name, client in upstreams.items()}
    app = create_gateway(settings, upstream_transports=transports)
    with TestClient(app, raise_server_exceptions=False) as gateway:
        bootstrap_admin(settings)
        yield gateway, bearer(gateway_token(gateway, ADMIN_ID, ADMIN_SECRET, "admin"))


def records_settings(database_url: str, tokens: TokenFactory, **changes: Any) -> Any:
    """learning-records' test settings, trusting the test key."""
    return LearningRecordsSettings(
        database_url=database_url,
        environment="test",
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        **changes,
    )


# --- the catalog and the indicators service ---------------------------------------------------

#: What indicators read from the catalog: the institutions and the plan with its targets.
CATALOG_SEEDS = ("reference_lists.json", "institutions_registry.json", "plan_2021_2027.json")


@contextmanager
def seeded_catalog(tokens: TokenFactory, workdir: Path) -> Iterator[TestClient]:
    """The catalog app on SQLite, loaded with the registry and the plan."""
    seeds = workdir / "seed"
    seeds.mkdir()
    for name in CATALOG_SEEDS:
        shutil.copy(SEED_DIR / name, seeds / name)
    url = f"sqlite:///{workdir / 'catalog'}.db"
    catalog_migrations.upgrade(url)
    engine = make_engine(url)
    try:
        list(load_all(engine, seeds))
    finally:
        engine.dispose()
    settings = CatalogSettings(
        database_url=url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )
    with TestClient(create_catalog(settings), raise_server_exceptions=False) as client:
        yield client


def indicators_database(workdir: Path) -> str:
    """An indicators database on SQLite with the plan's default definitions."""
    url = f"sqlite:///{workdir / 'indicators'}.db"
    indicators_migrations.upgrade(url)
    load_indicator_defaults(IndicatorsSettings(database_url=url, environment="test"))
    return url


@contextmanager
def indicators_over(
    database_url: str, tokens: TokenFactory, records: TestClient, catalog: TestClient
) -> Iterator[TestClient]:
    """The indicators app reading records and the catalog over their HTTP APIs with its own
    unrestricted service token, as deployed (requests go to the in-process apps)."""
    service_token = tokens.token("records:read catalog:read", client_id="indicators")
    settings = IndicatorsSettings(
        database_url=database_url,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
        service_token=service_token,
    )
    token = ServiceToken(settings)

    def over(client: TestClient, base_url: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=TestClientTransport(client), base_url=base_url)

    app = create_indicators(
        settings,
        records=HttpRecordsSource(over(records, "http://records.iso"), token),
        catalog=HttpCatalogSource(over(catalog, "http://catalog.iso"), token),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


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
