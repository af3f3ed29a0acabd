"""Service application factory: lifespan (engine, migrations), middleware, problem handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlmodel import Session

from pilnveide_kit.auth import verifier_from_settings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.docs import install_docs
from pilnveide_kit.errors import PROBLEM_RESPONSES, install_problem_handlers
from pilnveide_kit.health import health_router
from pilnveide_kit.logging import RequestContextMiddleware, configure_logging
from pilnveide_kit.migrations import Migrations
from pilnveide_kit.settings import ServiceSettings

log = logging.getLogger("pilnveide.app")

StartupHook = Callable[[FastAPI], None]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str,
    migrations: Migrations,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[StartupHook] = (),
) -> FastAPI:
    """Build a service: its engine in the lifespan, migrations applied, health and problem+json."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.db_pool_size,
        )
        app.state.engine = engine
        if settings.migrate_on_start:
            migrations.upgrade(settings.database_url)
        for hook in on_startup:
            hook(app)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app, title=title)  # Swagger UI and ReDoc from installed assets, not a CDN
    app.state.settings = settings
    app.state.migrations = migrations
    app.state.token_verifier = verifier_from_settings(settings)
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router(settings.service_name, version))
    for router in routers:
        app.include_router(router)
    return app


def _session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


#: How many requests may hold a database session at once (per process). A request's session
#: spans several worker-thread hops (dependency, endpoint, commit); without a bound, waiting
#: requests can take every worker thread while the ones holding connections or the SQLite write
#: lock wait for a thread to commit in: a deadlock that ends in pool timeouts. Requests over the
#: bound wait without holding a thread. Keep it below the pool size and anyio's 40 threads.
MAX_CONCURRENT_SESSIONS = 10

#: The request's session. scope="function": the commit happens before the response is sent,
#: so a failed commit is reported to the client instead of being lost after a 2xx.
SessionDep = Annotated[
    Session, Depends(_session, scope="function", max_concurrency=MAX_CONCURRENT_SESSIONS)
]


def run(app_path: str, settings: ServiceSettings) -> None:
    """Serve an app with uvicorn, JSON logs, on the settings' host and port."""
    import uvicorn

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(
        app_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
