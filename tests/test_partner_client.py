"""A partner's view: a client generated from the gateway's /openapi.json gets a token and calls.

The gateway runs under uvicorn on a free local port (a real HTTP server, as a partner meets
it) in front of the real service apps (reached in-process). The merged document is fed to
openapi-python-client; the generated package is imported and used exactly as a partner would:
an administrator registers the partner, the partner gets a token with client credentials and
calls the API, and a call beyond its scopes is refused; CSV exports and an xAPI statement
round trip go through the generated client too.
"""

from __future__ import annotations

import datetime
import importlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from catalog.loader.run import load_all
from catalog.main import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from indicators.main import create_app as create_indicators
from indicators.settings import IndicatorsSettings
from learning_records.main import create_app as create_records
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.openapi import check_operation_ids
from pilnveide_kit.testing import TestClientTransport, TokenFactory

ADMIN_ID, ADMIN_SECRET = "partner-test-admin", "partner-test-admin-secret-0123456789"
PACKAGE = "pilnveide_partner_client"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def gateway_url(tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway served over HTTP on 127.0.0.1, with the three services behind it."""
    workdir = tmp_path_factory.mktemp("partner")
    factories: list[tuple[str, Any, Any]] = [
        ("catalog", create_catalog, CatalogSettings),
        ("records", create_records, LearningRecordsSettings),
        ("indicators", create_indicators, IndicatorsSettings),
    ]
    with ExitStack() as stack:
        transports: dict[str, httpx.AsyncBaseTransport] = {}
        for name, factory, settings_class in factories:
            app = factory(
                settings_class(
                    database_url=f"sqlite:///{workdir / name}.db",
                    environment="test",
                    auth_jwks_json=tokens.jwks_json,
                    auth_jwks_file=None,
                )
            )
            service = stack.enter_context(TestClient(app))  # runs the service's lifespan
            if name == "catalog":
                load_all(app.state.engine)  # the plan, as `make run` loads it
            # Through the TestClient: each app is served on its own loop only.
            transports[name] = TestClientTransport(service)
        settings = GatewaySettings(
            environment="test",
            database_url=f"sqlite:///{workdir / 'gateway'}.db",
            signing_key_pem=tokens.private_pem,
            signing_kid=tokens.kid,
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
            admin_client_id=ADMIN_ID,
            admin_client_secret=ADMIN_SECRET,
        )
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_gateway(settings, upstream_transports=transports),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(500):  # bounded wait for start-up (at most ~10 s)
            if server.started or not thread.is_alive():
                break
            time.sleep(0.02)
        assert server.started, "the gateway did not start"
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(settings), ADMIN_ID, ADMIN_SECRET)
        engine.dispose()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def document(gateway_url: str) -> dict[str, Any]:
    """The merged OpenAPI document, as a partner downloads it."""
    answer = httpx.get(f"{gateway_url}/openapi.json", timeout=120)
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.fixture(scope="module")
def generated(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The Python client openapi-python-client generates from the document, imported."""
    workdir = tmp_path_factory.mktemp("generated")
    spec = workdir / "openapi.json"
    spec.write_text(json.dumps(document))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(workdir / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=workdir,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning(s) encountered" not in run.stdout, run.stdout
    sys.path.insert(0, str(workdir))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))


def _models(generated: ModuleType) -> Any:
    return importlib.import_module(f"{generated.__name__}.models")


def test_merged_document_is_fit_for_generators(document: dict[str, Any]) -> None:
    assert "x-unavailable-services" not in document
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(operation_ids) == len(set(operation_ids))
    # Clean names: the route function's name, prefixed with the service (none of FastAPI's
    # defaults with path and method in them).
    assert check_operation_ids(document) == []
    assert {
        "catalog_list_measures",
        "records_write_enrolments_bulk",
        "indicators_get_indicator_result",
        "indicators_get_indicator_result_csv",
        "xapi_get_statements",
        "issue_token",
    } <= set(operation_ids)
    # The LRS is listed where LRS clients reach it (HTTP Basic works there), not under /records.
    assert "/xapi/statements" in document["paths"]
    assert not [p for p in document["paths"] if p.startswith("/records/xapi")]
    # One problem schema; every error documented as application/problem+json.
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas and "ValidationProblem" in schemas
    assert not [n for n in schemas if n.endswith("Problem") and n not in _SHARED_PROBLEMS]
    assert "HTTPValidationError" not in str(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, answer in operation.get("responses", {}).items():
                if code[0] not in "45":
                    continue
                media_types = list(answer.get("content", {}))
                if path == "/auth/token" and code in ("400", "401", "503"):
                    # OAuth errors are RFC 6749 JSON, as OAuth clients expect.
                    assert "application/json" in media_types, (path, code)
                    continue
                assert media_types == ["application/problem+json"], (method, path, code)
    # Rules enforced beyond the schema are declared.
    update = document["paths"]["/catalog/v1/institutions/{code}"]["patch"]
    if_match = next(p for p in update["parameters"] if p["name"] == "If-Match")
    assert if_match["required"] is True and "428" in update["responses"]
    bulk = document["paths"]["/records/v1/enrolments/bulk"]["post"]
    key = next(p for p in bulk["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == 200 and key["schema"]["pattern"]
    assert set(bulk["requestBody"]["content"]) == {
        "application/json",
        "application/x-ndjson",
        "text/csv",
    }
    statements = document["paths"]["/xapi/statements"]["post"]
    version = next(p for p in statements["parameters"] if p["name"] == "X-Experience-API-Version")
    assert version["required"] is True
    csv_export = document["paths"]["/records/v1/data-quality/unknown-courses.csv"]["get"]
    assert list(csv_export["responses"]["200"]["content"]) == ["text/csv"]
    # The HR views' CSV: an operation each, text/csv only, no `format` to choose JSON with.
    for path, operation_id in HR_CSV_EXPORTS.items():
        twin = document["paths"][f"/records{path}.csv"]["get"]
        assert twin["operationId"] == operation_id, path
        assert list(twin["responses"]["200"]["content"]) == ["text/csv"], path
        assert "format" not in {p["name"] for p in twin.get("parameters", [])}, path
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["OAuth2ClientCredentials"]
    assert schemes["OAuth2ClientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == (
        "/auth/token"
    )
    titles = [s.get("title") for s in document["components"]["schemas"].values()]
    assert len(titles) == len(set(titles))
    assert {"/catalog/version", "/records/version", "/indicators/version"} <= set(document["paths"])


_SHARED_PROBLEMS = {"Problem", "ValidationProblem"}
#: The HR views (issue #14) and their CSV operations in the merged document.
HR_CSV_EXPORTS = {
    "/v1/people/{pseudonym}/history": "records_person_history_csv",
    "/v1/people/{pseudonym}/competencies": "records_person_competencies_csv",
    "/v1/people/{pseudonym}/competency-gaps": "records_person_competency_gaps_csv",
    "/v1/institutions/{institution}/competency-gaps": "records_institution_competency_gaps_csv",
    "/v1/institutions/{institution}/competency-gaps/summary": (
        "records_institution_competency_gap_summary_csv"
    ),
    "/v1/people/{pseudonym}/compliance": "records_person_compliance_csv",
    "/v1/institutions/{institution}/compliance": "records_institution_compliance_csv",
    "/v1/institutions/{institution}/certificates/expiring": "records_expiring_certificates_csv",
    "/v1/hr/{institution}/updates": "records_hr_pull_csv",
}


def _api(generated: ModuleType, tag: str, operation: str) -> Any:
    return importlib.import_module(f"{generated.__name__}.api.{tag}.{operation}")


def _partner(generated: ModuleType, gateway_url: str, client_id: str, scopes: list[str]) -> Any:
    """A partner registered by the administrator, signed in with its client credentials."""
    models = _models(generated)
    issue_token = _api(generated, "auth", "issue_token")
    create_client = _api(generated, "admin", "create_client")
    anonymous = generated.Client(base_url=gateway_url)
    admin_token = issue_token.sync(
        client=anonymous,
        body=models.TokenRequest(
            grant_type="client_credentials", client_id=ADMIN_ID, client_secret=ADMIN_SECRET
        ),
    )
    admin = generated.AuthenticatedClient(base_url=gateway_url, token=admin_token.access_token)
    partner = create_client.sync(
        client=admin,
        body=models.ApiClientCreate(name=client_id, scopes=scopes, client_id=client_id),
    )
    assert isinstance(partner, models.ApiClientWithSecret), partner
    token = issue_token.sync(
        client=anonymous,
        body=models.TokenRequest(
            grant_type="client_credentials",
            client_id=partner.client_id,
            client_secret=partner.client_secret,
        ),
    )
    assert isinstance(token, models.TokenResponse), token
    return generated.AuthenticatedClient(base_url=gateway_url, token=token.access_token)


def test_partner_asks_for_csv_and_gets_csv(gateway_url: str, generated: ModuleType) -> None:
    models = _models(generated)
    client = _partner(generated, gateway_url, "partner-hr", ["records:read"])
    as_json = _api(generated, "records_data_quality", "records_list_unknown_courses")
    as_csv = _api(generated, "records_data_quality", "records_list_unknown_courses_csv")
    report = as_json.sync(client=client)
    assert isinstance(report, models.RecordsUnknownCourses), report
    text = as_csv.sync(client=client)
    assert isinstance(text, str), text
    assert text.splitlines()[0].startswith("issue,institution")
    assert len(text.splitlines()) == 1 + len(report.data)
    refused = as_csv.sync_detailed(client=generated.Client(base_url=gateway_url))
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
    # An HR view's CSV through its own generated call: text with the header row, no JSON.
    compliance = _api(generated, "records_compliance", "records_institution_compliance_csv")
    text = compliance.sync(institution="VK", client=client, as_of=datetime.date(2025, 6, 30))
    assert isinstance(text, str), text
    assert text.splitlines()[0].startswith("pseudonym,source_system,external_id,institution")


def test_partner_sends_and_reads_an_xapi_statement(gateway_url: str, generated: ModuleType) -> None:
    models = _models(generated)
    client = _partner(generated, gateway_url, "partner-lrs", ["xapi:read", "xapi:write"])
    post = _api(generated, "xapi_x_api_lrs", "xapi_post_statements")
    get = _api(generated, "xapi_x_api_lrs", "xapi_get_statements")
    about = _api(generated, "xapi_x_api_lrs", "xapi_get_about")
    statement = models.RecordsStatement.from_dict(
        {
            "actor": {"objectType": "Agent", "mbox": "mailto:partner.learner@example.lv"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en": "saw"}},
            "object": {"id": "https://lms.example.lv/courses/ethics-101"},
        }
    )
    ids = post.sync(client=client, body=statement, x_experience_api_version="2.0.0")
    assert isinstance(ids, list) and len(ids) == 1, ids
    stored = get.sync(client=client, statement_id=ids[0], x_experience_api_version="2.0.0")
    assert isinstance(stored, models.RecordsStatement), stored
    assert stored.id == ids[0]
    assert stored.verb.id == "http://adlnet.gov/expapi/verbs/experienced"
    assert stored.object_.id == "https://lms.example.lv/courses/ethics-101"
    page = get.sync(client=client, verb=stored.verb.id, x_experience_api_version="2.0.0")
    assert isinstance(page, models.RecordsStatementResult), page
    assert ids[0] in {s.id for s in page.statements}
    versions = about.sync(client=generated.Client(base_url=gateway_url))
    assert isinstance(versions, models.RecordsAbout) and "2.0.0" in versions.version


def test_partner_gets_a_token_and_calls_the_api(gateway_url: str, generated: ModuleType) -> None:
    models = _models(generated)
    issue_token = importlib.import_module(f"{generated.__name__}.api.auth.issue_token")
    create_client = _api(generated, "admin", "create_client")
    list_clients = _api(generated, "admin", "list_clients")
    list_plans = _api(generated, "catalog_plan", "catalog_list_plans")
    list_priorities = _api(generated, "catalog_plan", "catalog_list_priorities")
    catalog_version = _api(generated, "catalog_health", "catalog_version_info")

    anonymous = generated.Client(base_url=gateway_url)
    admin_token = issue_token.sync(
        client=anonymous,
        body=models.TokenRequest(
            grant_type="client_credentials", client_id=ADMIN_ID, client_secret=ADMIN_SECRET
        ),
    )
    assert isinstance(admin_token, models.TokenResponse), admin_token
    admin = generated.AuthenticatedClient(base_url=gateway_url, token=admin_token.access_token)
    partner = create_client.sync(
        client=admin,
        body=models.ApiClientCreate(
            name="Partner LMS", scopes=["catalog:read"], client_id="partner-lms"
        ),
    )
    assert isinstance(partner, models.ApiClientWithSecret), partner

    token = issue_token.sync(
        client=anonymous,
        body=models.TokenRequest(
            grant_type="client_credentials",
            client_id=partner.client_id,
            client_secret=partner.client_secret,
        ),
    )
    assert isinstance(token, models.TokenResponse), token
    assert token.scope == "catalog:read" and token.expires_in == 900
    as_partner = generated.AuthenticatedClient(base_url=gateway_url, token=token.access_token)
    version = catalog_version.sync(client=as_partner)
    assert isinstance(version, models.VersionInfo), version
    assert version.service == "catalog"

    refused = list_clients.sync_detailed(client=as_partner)
    assert refused.status_code == 403
    assert json.loads(refused.content)["missing_scopes"] == ["admin"]
    assert isinstance(refused.parsed, models.Problem), refused.parsed

    plans = list_plans.sync(client=as_partner)
    assert isinstance(plans, models.CatalogPagePlanPublic), plans
    assert "LAP-2021-2027" in {plan.code for plan in plans.data}
    assert plans.count == len(plans.data) and plans.next_cursor is None
    priorities = list_priorities.sync(client=as_partner, plan="LAP-2021-2027")
    assert isinstance(priorities, models.CatalogPagePriorityPublic), priorities
    assert len(priorities.data) == 5 and priorities.count == 5
    first = list_priorities.sync(client=as_partner, plan="LAP-2021-2027", limit=2)
    assert len(first.data) == 2 and first.count == 5 and first.next_cursor
    rest = list_priorities.sync(
        client=as_partner, plan="LAP-2021-2027", limit=2, cursor=first.next_cursor
    )
    assert rest.count == 5 and rest.data[0].code != first.data[-1].code

    # Health and version are public; the plan is not.
    assert catalog_version.sync_detailed(client=anonymous).status_code == 200
    assert list_plans.sync_detailed(client=anonymous).status_code == 401


def test_wrong_secret_is_an_oauth_error_for_the_partner(
    gateway_url: str, generated: ModuleType
) -> None:
    models = _models(generated)
    issue_token = importlib.import_module(f"{generated.__name__}.api.auth.issue_token")
    answer = issue_token.sync(
        client=generated.Client(base_url=gateway_url),
        body=models.TokenRequest(
            grant_type="client_credentials", client_id=ADMIN_ID, client_secret="wrong"
        ),
    )
    assert isinstance(answer, models.OAuthErrorResponse)
    assert answer.error == "invalid_client"


def test_partner_reads_the_signing_keys(
    gateway_url: str, generated: ModuleType, tokens: TokenFactory
) -> None:
    jwks = importlib.import_module(f"{generated.__name__}.api.auth.jwks")
    keys = jwks.sync(client=generated.Client(base_url=gateway_url))
    assert [k["kid"] for k in keys.to_dict()["keys"]] == [tokens.kid]
