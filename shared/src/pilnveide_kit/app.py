"""Service application factory: lifespan (engine, migrations), middleware, problem handlers."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlmodel import Session
from starlette.middleware import Middleware

from pilnveide_kit.auth import verifier_from_settings
from pilnveide_kit.boundary import DEFAULT_MAX_JSON_BYTES, InputBoundaryMiddleware
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.docs import install_docs
from pilnveide_kit.errors import PROBLEM_RESPONSES, install_problem_handlers
from pilnveide_kit.faults import RetryTransactionMiddleware, install_fault_handlers
from pilnveide_kit.health import ReadinessCheck, health_router
from pilnveide_kit.logging import RequestContextMiddleware, configure_logging
from pilnveide_kit.migrations import Migrations
from pilnveide_kit.openapi import install_openapi, operation_id
from pilnveide_kit.revocations import RevocationList
from pilnveide_kit.settings import ServiceSettings

log = logging.getLogger("pilnveide.app")

StartupHook = Callable[[FastAPI], None]
#: A resource the app holds while it runs (e.g. pooled HTTP clients), opened after the startup
#: hooks on the loop that serves the app and closed on that loop at shutdown.
LifespanResource = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str,
    migrations: Migrations,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[StartupHook] = (),
    resources: Sequence[LifespanResource] = (),
    readiness_checks: Sequence[ReadinessCheck] = (),
    middleware: Sequence[Middleware] = (),
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    unchecked_prefixes: Sequence[str] = (),
    **fastapi_options: Any,
) -> FastAPI:
    """Build a service: its engine in the lifespan, migrations applied, health and problem+json.

    resources: async context managers held for the app's life; readiness_checks: more checks of
    this process for /readyz; middleware: between the request context and the input boundary;
    max_json_bytes: the largest JSON/NDJSON/form body the input boundary reads and checks;
    unchecked_prefixes: paths the boundary and the retry leave alone (the gateway's proxied
    routes: their bodies are streamed, never held).
    """

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
        revocations = app.state.token_verifier.revocations
        if isinstance(revocations, RevocationList):
            revocations.start_keeping_fresh()  # requests need not wait for the gateway
        try:
            for hook in on_startup:
                hook(app)
            async with AsyncExitStack() as stack:
                for resource in resources:
                    await stack.enter_async_context(resource(app))
                yield
        finally:
            engine.dispose()

    # FastAPI's own docs pages load from a CDN: replaced by install_docs below.
    options: dict[str, Any] = {
        "responses": PROBLEM_RESPONSES,
        "docs_url": None,
        "redoc_url": None,
        # Operation ids are the route functions' names: clean names in generated clients.
        "generate_unique_id_function": operation_id,
        **fastapi_options,
    }
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        **options,
    )
    install_openapi(app)  # problem+json errors, declared headers (pilnveide_kit.openapi)
    if app.openapi_url is not None:  # an app serving its own document (the gateway merges)
        install_docs(app, title=title)  # Swagger UI and ReDoc from installed assets, not a CDN
    app.state.settings = settings
    app.state.migrations = migrations
    app.state.token_verifier = verifier_from_settings(settings)
    install_problem_handlers(app)
    install_fault_handlers(app)
    # Added innermost first: the one in-service retry of a rolled-back transaction, the input
    # boundary, the caller's middleware (the first listed outermost), the request context.
    app.add_middleware(
        RetryTransactionMiddleware,
        max_body_bytes=max_json_bytes,
        skip_prefixes=tuple(unchecked_prefixes),
    )
    app.add_middleware(
        InputBoundaryMiddleware,
        max_json_bytes=max_json_bytes,
        skip_prefixes=tuple(unchecked_prefixes),
    )
    for layer in reversed(middleware):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(
        health_router(settings.service_name, version, readiness_checks=readiness_checks)
    )
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


#: Seconds a worker process may take to answer the supervisor's health ping (with workers > 1).
WORKER_HEALTHCHECK_TIMEOUT_S = 120


def serve_workers(settings: ServiceSettings, *, can_migrate: bool) -> int:
    """How many worker processes `serve` runs: one on SQLite, or when migrations cannot run
    first; otherwise the `workers` setting."""
    if settings.database_url.startswith("sqlite") or settings.workers < 2:
        return 1
    if settings.migrate_on_start and not can_migrate:
        log.warning(
            "workers=%d needs migrations applied first; serving one process", settings.workers
        )
        return 1
    return settings.workers


def run(
    app_path: str, settings: ServiceSettings, migrate: Callable[[], None] | None = None
) -> None:
    """Serve an app with uvicorn, JSON logs, on the settings' host and port.

    With `settings.workers` above one (PostgreSQL only) uvicorn runs that many processes. Each
    would apply migrations at start and race the others, so `migrate` (the service's upgrade)
    runs once here first and the workers skip it; without it the service runs one process.
    """
    import uvicorn

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    workers = serve_workers(settings, can_migrate=migrate is not None)
    if workers > 1 and settings.migrate_on_start and migrate is not None:
        migrate()
        prefix = str(settings.model_config.get("env_prefix", ""))
        os.environ[f"{prefix}MIGRATE_ON_START"] = "false"
    uvicorn.run(
        app_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        # The supervisor kills a worker that does not answer its ping in time. A worker
        # importing the app on a busy machine, or holding the GIL through a large bulk batch,
        # can take longer than uvicorn's 5 s: killed, restarted, killed again, never serving.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
