"""The gateway: the single entry point that routes to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.alternate import with_form_credentials
from gateway.audit.middleware import AuditMiddleware
from gateway.audit.router import router as audit_router
from gateway.clients.models import ApiClient
from gateway.clients.router import router as clients_router
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ClientDirectory
from gateway.guard import admit
from gateway.keys import KeyStore, ensure_keys
from gateway.limits import BodySizeLimitMiddleware
from gateway.openapi import MergedOpenAPI, merge_documents
from gateway.production import UnsafeConfiguration, ensure_safe_to_start
from gateway.proxy import forward
from gateway.ratelimit import RateLimiter
from gateway.settings import DEV_ADMIN_CLIENT_SECRET, GatewaySettings
from gateway.tokens.resorts import ResortResolver
from gateway.tokens.router import router as tokens_router
from gateway.tokens.service import OAuthError
from gateway.upstreams import Upstream, upstreams
from pilnveide_kit.auth import KeySet, TokenVerifier
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.errors import PROBLEM_RESPONSES, install_problem_handlers
from pilnveide_kit.health import Health, VersionInfo, database_checks, readiness_answer
from pilnveide_kit.http import async_client
from pilnveide_kit.logging import RequestContextMiddleware
from pilnveide_kit.migrations import Migrations

GATEWAY_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(GATEWAY_DIR)

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DESCRIPTION = (
    "The single entry point of Pilnveide. `/catalog/**`, `/records/**` and `/indicators/**` "
    "reach the services with the prefix stripped; `/xapi/**` reaches the learning-records LRS.\n\n"
    "Every call needs a bearer token from `POST /auth/token` (OAuth2 client credentials, "
    "RFC 6749 §4.4); each operation lists the scope it needs. A client restricted to some "
    "institutions sees only their data: anything else answers 404. On `/xapi/**` HTTP Basic "
    "with the client's id and secret works too."
)


def _operation_id(route: APIRoute) -> str:
    return route.name


def _refuse_default_admin_secret(settings: GatewaySettings, engine: Any) -> None:
    """In production the stored admin client must not still accept the development secret."""
    hasher = SecretHasher(settings)
    with session_scope(engine) as session:
        client = session.get(ApiClient, settings.effective_admin_client_id)
        if client is not None and hasher.verify(client.secret_hash, DEV_ADMIN_CLIENT_SECRET):
            raise UnsafeConfiguration(
                "The gateway refuses to start in production: the admin client "
                f"{client.client_id!r} still accepts the development secret; run `gateway prepare`"
            )


def create_app(
    settings: GatewaySettings | None = None,
    *,
    upstream_transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    catalog_transport: httpx.BaseTransport | None = None,
) -> FastAPI:
    """Build the gateway application (transports: in-process upstreams, for tests)."""
    settings = settings or GatewaySettings()
    ensure_safe_to_start(settings)
    routes = upstreams(settings)
    merged_openapi = MergedOpenAPI(settings.openapi_cache_s)
    keys = KeyStore(settings)
    hasher = SecretHasher(settings)

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
        if not settings.is_production:
            ensure_keys(settings)
        keys.material()  # no key, no start
        if settings.is_production:
            _refuse_default_admin_secret(settings, engine)
        app.state.directory = ClientDirectory(engine, hasher, settings)
        clients: dict[str, httpx.AsyncClient] = {}
        for upstream in routes:
            # /records and /xapi share one pool: they reach the same service.
            if upstream.base_url not in clients:
                transport = (upstream_transports or {}).get(upstream.name)
                clients[upstream.base_url] = async_client(
                    upstream.base_url,
                    connect_timeout=settings.connect_timeout_s,
                    read_timeout=settings.read_timeout_s,
                    transport=transport,
                )
        app.state.clients = clients
        try:
            yield
        finally:
            for client in clients.values():
                await client.aclose()
            engine.dispose()

    app = FastAPI(
        title="Pilnveide API",
        description=DESCRIPTION,
        version=version("gateway"),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=PROBLEM_RESPONSES,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.migrations = migrations
    app.state.keys = keys
    app.state.hasher = hasher
    app.state.rate_limiter = RateLimiter(
        settings.rate_limit_per_s,
        settings.rate_limit_burst,
        {f"client:{c}": (r.per_s, r.burst) for c, r in settings.rate_limit_clients.items()},
    )
    app.state.resorts = ResortResolver(settings, keys.signer, transport=catalog_transport)
    app.state.token_verifier = TokenVerifier(
        KeySet(loader=keys.jwks, min_reload_interval_s=0),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        leeway_s=settings.auth_leeway_s,
    )
    install_problem_handlers(app)

    async def _oauth_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return exc.response()

    app.add_exception_handler(OAuthError, _oauth_error)
    # Outermost last: request id, then audit, then the size limit, then the routes.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(tokens_router)
    app.include_router(clients_router)
    app.include_router(audit_router)

    def client_for(request: Request, upstream: Upstream) -> httpx.AsyncClient:
        client: httpx.AsyncClient = request.app.state.clients[upstream.base_url]
        return client

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Gateway is alive")
    def healthz() -> Health:
        """Liveness of the gateway itself."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], summary="Every service is ready")
    async def readyz(request: Request) -> Any:
        """Readiness: the gateway's database is at head and each service's /readyz answers 200."""
        checks: dict[str, str] = await run_in_threadpool(database_checks, request.app)
        for upstream in routes:
            if not upstream.strip_prefix:
                continue
            try:
                answer = await client_for(request, upstream).get("/readyz")
                checks[upstream.name] = "ok" if answer.status_code == 200 else "not ready"
            except httpx.HTTPError as exc:
                checks[upstream.name] = f"unreachable: {type(exc).__name__}"
        return readiness_answer(checks)

    @app.get("/version", response_model=VersionInfo, tags=["health"], summary="Gateway version")
    def version_info() -> VersionInfo:
        """The gateway's release."""
        return VersionInfo(service="gateway", version=app.version, api_version="v1")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        """The merged OpenAPI document of the gateway and every service."""
        base = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        documents = []
        for upstream in routes:
            if upstream.strip_prefix:
                document = await merged_openapi.fetch(upstream, client_for(request, upstream))
                documents.append((upstream, document))
        return JSONResponse(merge_documents(base, documents))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI over the merged document."""
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Pilnveide API")

    for upstream in routes:
        _add_proxy_route(app, upstream, client_for)
    return app


def _add_proxy_route(app: FastAPI, upstream: Upstream, client_for: Any) -> None:
    async def proxy(request: Request) -> Response:
        if upstream.is_public(request.method, request.url.path):
            # Public paths pass without the caller's credentials: a service never sees a secret.
            return await forward(request, upstream, client_for(request, upstream), authorization="")
        if upstream.name == "xapi":
            request = await with_form_credentials(request)
        _principal, token = await admit(request, allow_basic=upstream.name == "xapi")
        return await forward(
            request, upstream, client_for(request, upstream), authorization=f"Bearer {token}"
        )

    proxy.__doc__ = f"Forward {upstream.prefix}/** to the {upstream.name} service."
    for path in (upstream.prefix, upstream.prefix + "/{path:path}"):
        app.add_api_route(
            path,
            proxy,
            methods=PROXY_METHODS,
            include_in_schema=False,
            name=f"proxy_{upstream.name}" + ("_root" if path == upstream.prefix else ""),
        )
