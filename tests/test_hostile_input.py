"""Hostile input, case by case: each gets a 4xx problem+json and changes nothing stored.

Every service runs in its own server on its own database (SQLite, and PostgreSQL when it is
reachable: NUL in text is what PostgreSQL refuses), the gateway in front of them. Each case is
sent straight to its service and through the gateway; before and after, every table of every
service (and the gateway's, but its audit log) is counted, and the counts must not move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from catalog.main import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.main import create_app as create_gateway
from indicators.main import create_app as create_indicators
from indicators.settings import IndicatorsSettings
from learning_records.main import create_app as create_records
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.testing import TokenFactory, serve_in_thread, temporary_database

from .hostile_cases import CASES, STATE, XAPI, Case, statement
from .inprocess import ADMIN_ID, ADMIN_SECRET, bootstrap_admin, gateway_settings, gateway_token

ALL_SCOPES = (
    "catalog:read catalog:write records:read records:write indicators:read indicators:write "
    "xapi:read xapi:write admin"
)
PREFIXES = {"catalog": "/catalog", "records": "/records", "indicators": "/indicators"}


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
        settings = gateway_settings(
            tokens,
            urls["gateway"],
            catalog_url=served["catalog"],
            records_url=served["records"],
            indicators_url=served["indicators"],
        )
        gateway_app = create_gateway(settings)
        gateway = stack.enter_context(TestClient(gateway_app, raise_server_exceptions=False))
        bootstrap_admin(settings)
        token = gateway_token(gateway, ADMIN_ID, ADMIN_SECRET, ALL_SCOPES)
        yield Stack(direct, apps, gateway, gateway_app, tokens, token)


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
    written = stack.gateway.post("/xapi/statements", json=[statement()], headers=headers)
    assert written.status_code == 200, written.text
    state = stack.gateway.put(STATE, json={"progress": 0.5}, headers=headers)
    assert state.status_code == 204, state.text
    after = stack.counts()
    assert after != before
