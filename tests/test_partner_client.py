"""A partner's view: a client generated from the gateway's /openapi.json gets a token and calls.

The gateway runs under uvicorn on a free local port (a real HTTP server, as a partner meets
it) in front of the real service apps (reached in-process). The merged document is fed to
openapi-python-client; the generated package is imported and used exactly as a partner would:
an administrator registers the partner, the partner gets a token with client credentials and
calls the API, and a call beyond its scopes is refused.
"""

from __future__ import annotations

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
    answer = httpx.get(f"{gateway_url}/openapi.json")
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
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["OAuth2ClientCredentials"]
    assert schemes["OAuth2ClientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == (
        "/auth/token"
    )
    titles = [s.get("title") for s in document["components"]["schemas"].values()]
    assert len(titles) == len(set(titles))
    assert {"/catalog/version", "/records/version", "/indicators/version"} <= set(document["paths"])


def test_partner_gets_a_token_and_calls_the_api(gateway_url: str, generated: ModuleType) -> None:
    models = _models(generated)
    issue_token = importlib.import_module(f"{generated.__name__}.api.auth.issue_token")
    create_client = importlib.import_module(f"{generated.__name__}.api.admin.create_client")
    list_clients = importlib.import_module(f"{generated.__name__}.api.admin.list_clients")
    list_plans = importlib.import_module(
        f"{generated.__name__}.api.catalog_plan.catalog_list_plans_v1_plans_get"
    )
    list_priorities = importlib.import_module(
        f"{generated.__name__}.api.catalog_plan.catalog_list_priorities_v1_priorities_get"
    )
    catalog_version = importlib.import_module(
        f"{generated.__name__}.api.catalog_health.catalog_version_info_version_get"
    )

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
    assert isinstance(version, models.CatalogVersionInfo), version
    assert version.service == "catalog"

    refused = list_clients.sync_detailed(client=as_partner)
    assert refused.status_code == 403
    assert json.loads(refused.content)["missing_scopes"] == ["admin"]

    plans = list_plans.sync(client=as_partner)
    assert isinstance(plans, list), plans
    assert "LAP-2021-2027" in {plan.code for plan in plans}
    priorities = list_priorities.sync(client=as_partner, plan="LAP-2021-2027")
    assert isinstance(priorities, models.CatalogPagePriorityPublic), priorities
    assert len(priorities.data) == 5

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
