"""Every service's health, readiness, version and problem+json basics, over HTTP."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from pilnveide_kit.app import _session as kit_session
from pilnveide_kit.testing import temporary_database

SERVICES = {
    "catalog": ("catalog", "CatalogSettings"),
    "learning-records": ("learning_records", "LearningRecordsSettings"),
    "indicators": ("indicators", "IndicatorsSettings"),
}


@pytest.fixture(params=sorted(SERVICES))
def service(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[tuple[str, TestClient]]:
    """Each service on a fresh database of the backend, migrated at start as in production."""
    name = str(request.param)
    package, settings_class = SERVICES[name]
    main = importlib.import_module(f"{package}.main")
    settings = getattr(importlib.import_module(f"{package}.settings"), settings_class)
    with temporary_database(backend, tmp_path, package) as url:
        app = main.create_app(settings(database_url=url, environment="test", auth_jwks_file=None))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield name, client


def test_healthz_answers(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_reports_database_and_migrations(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "at head"}


def test_version_names_the_service(service: tuple[str, TestClient]) -> None:
    name, client = service
    assert client.get("/version").json()["service"] == name


def test_unknown_path_is_problem_json(service: tuple[str, TestClient]) -> None:
    _name, client = service
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_openapi_document_is_served(service: tuple[str, TestClient]) -> None:
    _name, client = service
    document = client.get("/openapi.json").json()
    assert document["info"]["title"].startswith("Pilnveide")
    assert "/healthz" in document["paths"]


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    """Every APIRoute, in included routers too (FastAPI keeps those as their own routers)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif getattr(route, "original_router", None) is not None:
            yield from _api_routes(route.original_router.routes)


def _session_names(dependant: Any) -> set[str]:
    """The endpoint's parameters that are the kit's database session."""
    return {d.name for d in dependant.dependencies if d.call is kit_session and d.name}


_THREAD_HOPS = ("run_in_threadpool", "to_thread")


def _session_used_on_the_loop(endpoint: Any, names: set[str]) -> list[int]:
    """Lines of a coroutine endpoint where the session is used other than by handing it to a
    worker thread (run_in_threadpool / asyncio.to_thread)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    handed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(_THREAD_HOPS):
            handed |= {id(a) for a in [*node.args, *(k.value for k in node.keywords)]}
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load)
        if id(node) not in handed
    ]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_async_route_uses_its_database_session_on_the_event_loop(name: str) -> None:
    """A coroutine endpoint runs on the event loop: using the synchronous session there, its
    wait for SQLite's write lock froze the whole service, the lock's holder included, for the
    30 s busy timeout (the fuzz run's timeouts). Such an endpoint hands the session to a worker
    thread, or takes none (indicators reads in short sessions of its own, in threads)."""
    package, settings_class = SERVICES[name]
    main = importlib.import_module(f"{package}.main")
    settings = getattr(importlib.import_module(f"{package}.settings"), settings_class)
    app = main.create_app(
        settings(database_url="sqlite://", environment="test", auth_jwks_file=None)
    )
    routes = [r for r in _api_routes(app.routes) if inspect.iscoroutinefunction(r.endpoint)]
    offending = {
        f"{r.endpoint.__qualname__} line {line}"
        for r in routes
        for line in _session_used_on_the_loop(r.endpoint, _session_names(r.dependant))
    }
    assert offending == set()


async def _blocks_the_loop(session: Any, request: Any) -> Any:
    body = await request.body()
    return session.exec(body)


async def _hands_over(session: Any, request: Any) -> Any:
    body = await request.body()
    return await run_in_threadpool(_blocks_the_loop, session, body)


def test_the_event_loop_check_tells_the_two_apart() -> None:
    assert _session_used_on_the_loop(_blocks_the_loop, {"session"}) != []
    assert _session_used_on_the_loop(_hands_over, {"session"}) == []
