"""The gateway: the single entry point that routes to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.responses import Response

from gateway.openapi import MergedOpenAPI, merge_documents
from gateway.proxy import forward
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstream, upstreams
from pilnveide_kit.errors import PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES, install_problem_handlers
from pilnveide_kit.health import Health, VersionInfo
from pilnveide_kit.http import async_client
from pilnveide_kit.logging import RequestContextMiddleware

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DESCRIPTION = (
    "The single entry point of Pilnveide. `/catalog/**`, `/records/**` and `/indicators/**` "
    "reach the services with the prefix stripped; `/xapi/**` reaches the learning-records LRS."
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway application."""
    settings = settings or GatewaySettings()
    routes = upstreams(settings)
    merged_openapi = MergedOpenAPI(settings.openapi_cache_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients: dict[str, httpx.AsyncClient] = {}
        for upstream in routes:
            # /records and /xapi share one pool: they reach the same service.
            if upstream.base_url not in clients:
                clients[upstream.base_url] = async_client(
                    upstream.base_url,
                    connect_timeout=settings.connect_timeout_s,
                    read_timeout=settings.read_timeout_s,
                )
        app.state.clients = clients
        try:
            yield
        finally:
            for client in clients.values():
                await client.aclose()

    app = FastAPI(
        title="Pilnveide API",
        description=DESCRIPTION,
        version=version("gateway"),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=PROBLEM_RESPONSES,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    def client_for(request: Request, upstream: Upstream) -> httpx.AsyncClient:
        client: httpx.AsyncClient = request.app.state.clients[upstream.base_url]
        return client

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Gateway is alive")
    def healthz() -> Health:
        """Liveness of the gateway itself."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], summary="Every service is ready")
    async def readyz(request: Request) -> Any:
        """Readiness: each service's /readyz answers 200."""
        checks: dict[str, str] = {}
        for upstream in routes:
            if not upstream.strip_prefix:
                continue
            try:
                answer = await client_for(request, upstream).get("/readyz")
                checks[upstream.name] = "ok" if answer.status_code == 200 else "not ready"
            except httpx.HTTPError as exc:
                checks[upstream.name] = f"unreachable: {type(exc).__name__}"
        if all(v == "ok" for v in checks.values()):
            return Health(status="ready", checks=checks)
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "Not ready: " + ", ".join(k for k, v in checks.items() if v != "ok"),
                "checks": checks,
            },
            status_code=503,
            media_type=PROBLEM_MEDIA_TYPE,
        )

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
        return await forward(request, upstream, client_for(request, upstream))

    proxy.__doc__ = f"Forward {upstream.prefix}/** to the {upstream.name} service."
    for path in (upstream.prefix, upstream.prefix + "/{path:path}"):
        app.add_api_route(
            path,
            proxy,
            methods=PROXY_METHODS,
            include_in_schema=False,
            name=f"proxy_{upstream.name}" + ("_root" if path == upstream.prefix else ""),
        )
