"""Authorisation matrix: every route × every kind of caller, directly and through the gateway.

Routes are read from the apps' own OpenAPI documents (their `security` entries carry the scopes
a route needs), so a new route is covered as soon as it exists. Health, readiness and version
routes are the only ones allowed without a scope; any other route without one fails
`test_every_route_declares_a_scope`.

Callers: no token, a malformed one, an expired one, alg=none, HS256 signed with the public key,
a wrong audience (all 401), a valid token missing the route's scope (403), and one carrying it
(anything but 401/403, and no server error). Routes with an institution in their path are also
called by a client restricted to another institution (404, as if the data did not exist).

Directly: each service app trusts the test key (TokenFactory). Through the gateway: the gateway
signs with that same key, issues real tokens from /auth/token, and reaches the real service apps
in-process (through each app's own TestClient, so every app runs on one loop).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
from pilnveide_kit.auth import SCOPES
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.settings import ServiceSettings
from pilnveide_kit.testing import TestClientTransport, TokenFactory

# /xapi/about: the xAPI specification lets any client read the About resource.
PUBLIC_SERVICE_PATHS = {"/healthz", "/readyz", "/version", "/xapi/about"}
PUBLIC_GATEWAY_PATHS = PUBLIC_SERVICE_PATHS | {
    "/auth/token",
    "/.well-known/jwks.json",
    "/auth/revocations",
    "/readyz/upstreams",
}
INSTITUTION_PARAMS = {"institution", "institution_code", "institution_id"}
BODY_METHODS = {"post", "put", "patch"}
ADMIN_ID, ADMIN_SECRET = "matrix-admin", "matrix-admin-secret-0123456789abcdef"
ALL_BUT_ADMIN = sorted(s for s in SCOPES if s != "admin")


@dataclass(frozen=True)
class Service:
    """A service under test: its app factory, settings class and gateway prefix."""

    name: str
    factory: Callable[[Any], FastAPI]
    settings: type[ServiceSettings]
    prefix: str


SERVICES = [
    Service("catalog", create_catalog, CatalogSettings, "/catalog"),
    Service("records", create_records, LearningRecordsSettings, "/records"),
    Service("indicators", create_indicators, IndicatorsSettings, "/indicators"),
]


@dataclass(frozen=True)
class Route:
    """One operation of an app and the scopes its OpenAPI document says it needs."""

    owner: str  # a service name, or "gateway" for the gateway's own routes
    method: str
    path: str
    scopes: tuple[str, ...]
    parameters: tuple[dict[str, Any], ...]

    @property
    def institution_param(self) -> str | None:
        """The path parameter naming an institution, if the route has one."""
        for parameter in self.parameters:
            if parameter.get("in") == "path" and parameter.get("name") in INSTITUTION_PARAMS:
                return str(parameter["name"])
        return None

    def url(self, institution: str = "VK") -> str:
        """The path with every parameter filled in (an institution code where one is asked)."""
        path = self.path
        for parameter in self.parameters:
            if parameter.get("in") != "path":
                continue
            name = parameter["name"]
            schema = parameter.get("schema", {})
            if name in INSTITUTION_PARAMS:
                value = institution
            elif schema.get("type") == "integer":
                value = "1"
            elif schema.get("format") == "uuid":
                value = "00000000-0000-0000-0000-000000000001"
            else:
                value = "x1"  # never an existing matrix client or resource
            path = path.replace("{" + name + "}", value)
        return path

    def __str__(self) -> str:
        return f"{self.owner} {self.method.upper()} {self.path}"


def _routes(owner: str, document: dict[str, Any], public: set[str]) -> list[Route]:
    routes = []
    for path, item in sorted(document.get("paths", {}).items()):
        for method, operation in sorted(item.items()):
            if method not in {"get", "post", "put", "patch", "delete"} or path in public:
                continue
            scopes = tuple(
                scope
                for requirement in operation.get("security", [])
                for scheme_scopes in requirement.values()
                for scope in scheme_scopes
            )
            routes.append(
                Route(owner, method, path, scopes, tuple(operation.get("parameters", [])))
            )
    return routes


def _offline_settings(settings_class: type[ServiceSettings]) -> Any:
    return settings_class(
        database_url="sqlite://", auth_jwks_json='{"keys": []}', auth_jwks_file=None
    )


def _matrix_gateway_settings(**changes: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "admin_client_id": ADMIN_ID,
        "admin_client_secret": ADMIN_SECRET,
        "rate_limit_per_s": 10_000.0,
        "rate_limit_burst": 10_000,
        "client_status_cache_s": 60,
        "catalog_url": "http://catalog.matrix",
        "records_url": "http://records.matrix",
        "indicators_url": "http://indicators.matrix",
    }
    values.update(changes)
    return GatewaySettings(**values)


SERVICE_ROUTES = [
    route
    for service in SERVICES
    for route in _routes(
        service.name,
        service.factory(_offline_settings(service.settings)).openapi(),
        PUBLIC_SERVICE_PATHS,
    )
]
GATEWAY_ROUTES = _routes(
    "gateway",
    create_gateway(_matrix_gateway_settings(database_url="sqlite://")).openapi(),
    PUBLIC_GATEWAY_PATHS,
)

UNAUTHENTICATED = ["no token", "malformed", "expired", "alg none", "hs256 public key", "audience"]
CASES = [*UNAUTHENTICATED, "missing scope", "allowed"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _forged(tokens: TokenFactory, case: str, scopes: tuple[str, ...]) -> str | None:
    """The bearer token of an unauthenticated case (None: send no Authorization header)."""
    now = int(time.time())
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": ADMIN_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "scope": " ".join(scopes) or "admin",
    }
    if case == "no token":
        return None
    if case == "malformed":
        return "this.is-not.a-token"
    if case == "expired":
        return tokens.token(" ".join(scopes), client_id=ADMIN_ID, exp=now - 5, iat=now - 905)
    if case == "alg none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.kid})}.{_b64(claims)}."
    if case == "hs256 public key":
        signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': tokens.kid})}.{_b64(claims)}"
        mac = hmac.new(tokens.public_pem.encode(), signing_input.encode(), hashlib.sha256)
        return signing_input + "." + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    if case == "audience":
        return tokens.token(" ".join(scopes), client_id=ADMIN_ID, aud="another-api")
    raise ValueError(case)


def _other_scope(scopes: tuple[str, ...]) -> str:
    """A real scope the route does not need (admin would carry them all)."""
    return next(s for s in ALL_BUT_ADMIN if s not in scopes)


def _call(client: TestClient, method: str, url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = {"json": {}} if method in BODY_METHODS else {}
    return client.request(method.upper(), url, headers=headers, **body)  # type: ignore[arg-type]


def _check(answer: httpx.Response, case: str, route: Route) -> None:
    where = f"{route} [{case}]: {answer.status_code} {answer.text[:300]}"
    if case in UNAUTHENTICATED:
        assert answer.status_code == 401, where
        assert answer.headers["content-type"] == "application/problem+json", where
    elif case == "missing scope":
        assert answer.status_code == 403, where
        assert answer.headers["content-type"] == "application/problem+json", where
    elif case == "other institution":
        assert answer.status_code == 404, where
    else:
        assert answer.status_code not in (401, 403), where
        # Allowed through; a service whose own upstream is absent in this test (indicators
        # needs catalog and records) may say so with a 503 problem, never crash.
        upstream_down = (
            answer.status_code == 503
            and answer.headers.get("content-type") == "application/problem+json"
            and "upstream" in answer.json().get("type", "")
        )
        assert answer.status_code < 500 or upstream_down, where


# --- the world under test ---------------------------------------------------------------------


@dataclass
class World:
    """Running service apps, the gateway in front of them, and its clients' credentials."""

    services: dict[str, TestClient]
    gateway: TestClient
    secrets: dict[str, str]
    _tokens: dict[tuple[str, str], str]

    def gateway_token(self, client_id: str, scope: str) -> str:
        """A real token from the gateway's /auth/token (cached per client and scope)."""
        key = (client_id, scope)
        if key not in self._tokens:
            answer = self.gateway.post(
                "/auth/token",
                data={"grant_type": "client_credentials", "scope": scope},
                auth=(client_id, self.secrets[client_id]),
            )
            assert answer.status_code == 200, answer.text
            self._tokens[key] = str(answer.json()["access_token"])
        return self._tokens[key]


@pytest.fixture(scope="module")
def world(tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Every service on its own SQLite file, and the gateway reaching them in-process."""
    workdir: Path = tmp_path_factory.mktemp("matrix")
    with ExitStack() as stack:
        service_clients: dict[str, TestClient] = {}
        transports: dict[str, httpx.AsyncBaseTransport] = {}
        for service in SERVICES:
            settings = service.settings(
                database_url=f"sqlite:///{workdir / service.name}.db",
                environment="test",
                auth_jwks_json=tokens.jwks_json,
                auth_jwks_file=None,
            )
            app = service.factory(settings)
            service_clients[service.name] = stack.enter_context(
                TestClient(app, raise_server_exceptions=False)
            )
            # Through the TestClient: each app is served on its own loop only.
            transports[service.name] = TestClientTransport(service_clients[service.name])
        gateway_settings = _matrix_gateway_settings(
            database_url=f"sqlite:///{workdir / 'gateway'}.db",
            signing_key_pem=tokens.private_pem,
            signing_kid=tokens.kid,
        )
        gateway = stack.enter_context(
            TestClient(
                create_gateway(gateway_settings, upstream_transports=transports),
                raise_server_exceptions=False,
            )
        )
        engine = make_engine(gateway_settings.database_url)
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(gateway_settings), ADMIN_ID, ADMIN_SECRET)
        engine.dispose()
        world = World(service_clients, gateway, {ADMIN_ID: ADMIN_SECRET}, {})
        admin = {"Authorization": f"Bearer {world.gateway_token(ADMIN_ID, 'admin')}"}
        for client_id, restriction in (("matrix-all", None), ("matrix-vk", ["VK"])):
            created = gateway.post(
                "/admin/clients",
                json={
                    "client_id": client_id,
                    "name": client_id,
                    # records:erase is for unrestricted clients only (the gateway refuses it).
                    "scopes": [
                        s for s in ALL_BUT_ADMIN if restriction is None or s != "records:erase"
                    ],
                    "institutions": restriction,
                },
                headers=admin,
            )
            assert created.status_code == 201, created.text
            world.secrets[client_id] = created.json()["client_secret"]
        yield world


# --- the matrix -------------------------------------------------------------------------------


def test_every_route_declares_a_scope() -> None:
    """No route but health and the token endpoints may be reached without a scope."""
    assert GATEWAY_ROUTES, "the gateway's admin routes must be found"
    undeclared = [str(r) for r in SERVICE_ROUTES + GATEWAY_ROUTES if not r.scopes]
    assert undeclared == []
    unknown = [str(r) for r in SERVICE_ROUTES + GATEWAY_ROUTES if set(r.scopes) - set(SCOPES)]
    assert unknown == []


def _matrix_params(routes: list[Route]) -> list[Any]:
    params = []
    for route in routes:
        for case in CASES:
            params.append(pytest.param(route, case, id=f"{route} [{case}]"))
        if route.institution_param:
            params.append(pytest.param(route, "other institution", id=f"{route} [other inst]"))
    return params


@pytest.mark.parametrize(("route", "case"), _matrix_params(SERVICE_ROUTES))
def test_service_route_directly(
    world: World, tokens: TokenFactory, route: Route, case: str
) -> None:
    """A service reached directly, bypassing the gateway, is exactly as protected."""
    client = world.services[route.owner]
    if case in UNAUTHENTICATED:
        token = _forged(tokens, case, route.scopes)
    elif case == "missing scope":
        token = tokens.token(_other_scope(route.scopes))
    elif case == "other institution":
        token = tokens.token(list(route.scopes), institutions=["VK"])
    else:
        token = tokens.token(list(route.scopes))
    url = route.url("FM" if case == "other institution" else "VK")
    _check(_call(client, route.method, url, token), case, route)


def _gateway_token(world: World, tokens: TokenFactory, route: Route, case: str) -> str | None:
    if case in UNAUTHENTICATED:
        return _forged(tokens, case, route.scopes)
    if case == "missing scope":
        return world.gateway_token("matrix-all", _other_scope(route.scopes))
    if "admin" in route.scopes:
        return world.gateway_token(ADMIN_ID, " ".join(route.scopes))
    client_id = "matrix-vk" if case == "other institution" else "matrix-all"
    return world.gateway_token(client_id, " ".join(route.scopes))


@pytest.mark.parametrize(("route", "case"), _matrix_params(SERVICE_ROUTES))
def test_service_route_through_the_gateway(
    world: World, tokens: TokenFactory, route: Route, case: str
) -> None:
    """The same route and caller through the gateway, with tokens the gateway issued."""
    prefix = next(s.prefix for s in SERVICES if s.name == route.owner)
    url = route.url("FM" if case == "other institution" else "VK")
    if not url.startswith("/xapi"):
        url = prefix + url
    token = _gateway_token(world, tokens, route, case)
    _check(_call(world.gateway, route.method, url, token), case, route)


@pytest.mark.parametrize(("route", "case"), _matrix_params(GATEWAY_ROUTES))
def test_gateway_own_route(world: World, tokens: TokenFactory, route: Route, case: str) -> None:
    """The gateway's own routes (client administration, audit log)."""
    token = _gateway_token(world, tokens, route, case)
    _check(_call(world.gateway, route.method, route.url(), token), case, route)


def test_matrix_clients_are_untouched_by_the_matrix(world: World) -> None:
    """The allowed calls used placeholder ids, so every matrix client is still active."""
    admin = {"Authorization": f"Bearer {world.gateway_token(ADMIN_ID, 'admin')}"}
    listed = world.gateway.get("/admin/clients", headers=admin).json()["data"]
    assert {c["client_id"]: c["active"] for c in listed} == {
        ADMIN_ID: True,
        "matrix-all": True,
        "matrix-vk": True,
    }
