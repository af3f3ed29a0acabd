"""The gateway: the single entry point that routes to the services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware
from starlette.responses import Response

from gateway.audit.middleware import AuditMiddleware
from gateway.audit.router import router as audit_router
from gateway.audit.writer import AuditWriter
from gateway.clients.directory import ClientDirectory
from gateway.clients.models import ApiClient
from gateway.clients.router import router as clients_router
from gateway.clients.secrets import SecretHasher
from gateway.cors import install_cors
from gateway.keys import KeyStore, ensure_keys
from gateway.limits import BodySizeLimitMiddleware, body_limits
from gateway.oidc.issuers import Issuers
from gateway.oidc.router import router as sign_ins_router
from gateway.openapi import MergedOpenAPI, merge_documents
from gateway.production import UnsafeConfiguration, ensure_safe_to_start
from gateway.proxied import ProxiedRoutes
from gateway.proxy import UpstreamLink
from gateway.ratelimit_redis import rate_limiter
from gateway.readiness import UpstreamsHealth, signing_key_check, upstream_readiness
from gateway.settings import DEV_ADMIN_CLIENT_SECRET, GatewaySettings
from gateway.tokens.resorts import ResortResolver
from gateway.tokens.router import router as tokens_router
from gateway.tokens.service import OAuthError
from gateway.tokens.throttle import CredentialGuard
from gateway.tokens.verified import VerifiedTokens
from gateway.upstream_client import UpstreamPool
from gateway.upstreams import Upstream, upstreams
from pilnveide_kit.app import create_service_app
from pilnveide_kit.auth import KeySet, TokenVerifier
from pilnveide_kit.db import session_scope
from pilnveide_kit.docs import install_docs
from pilnveide_kit.http import async_client, pooled_transport
from pilnveide_kit.migrations import Migrations
from pilnveide_kit.revocations import ClientRevocation

GATEWAY_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(GATEWAY_DIR)

DESCRIPTION = (
    "The single entry point of Pilnveide. `/catalog/**`, `/records/**` and `/indicators/**` "
    "reach the services with the prefix stripped; `/xapi/**` reaches the learning-records LRS.\n\n"
    "Every call needs a bearer token from `POST /auth/token` (OAuth2 client credentials, "
    "RFC 6749 §4.4); each operation lists the scope it needs. A client restricted to some "
    "institutions sees only their data: anything else answers 404. On `/xapi/**` HTTP Basic "
    "with the client's id and secret works too."
)


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


class _Registry:
    """The gateway's own revocation source: its client registry (built in the lifespan)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def entry(self, client_id: str) -> ClientRevocation:
        """What is revoked of the client, straight from the registry (cached briefly)."""
        directory: ClientDirectory = self.app.state.directory
        return directory.entry(client_id)


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
    key_set = KeySet(loader=keys.jwks, min_reload_interval_s=0)
    hasher = SecretHasher(settings)

    def prepare_keys_and_clients(app: FastAPI) -> None:
        if not settings.is_production:
            ensure_keys(settings)
        keys.material()  # no key, no start
        if settings.is_production:
            _refuse_default_admin_secret(settings, app.state.engine)
        app.state.directory = ClientDirectory(app.state.engine, hasher, settings)
        app.state.credential_guard = CredentialGuard(
            settings, app.state.directory, app.state.rate_limiter
        )
        # Proxied requests: each token verified once, its client's status checked every time.
        app.state.verified_tokens = VerifiedTokens(
            TokenVerifier(
                key_set,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                leeway_s=settings.auth_leeway_s,
            ),
            app.state.directory,
        )

    @asynccontextmanager
    async def audit_writer(app: FastAPI) -> AsyncIterator[None]:
        writer = AuditWriter(
            app.state.engine,
            flush_interval_s=settings.audit_flush_interval_s,
            batch_size=settings.audit_batch_size,
            max_pending=settings.audit_max_pending,
        )
        app.state.audit_writer = writer
        try:
            async with writer.running():
                yield
        finally:
            app.state.audit_writer = None

    @asynccontextmanager
    async def upstream_clients(app: FastAPI) -> AsyncIterator[None]:
        # Created and closed on the loop that serves the app: a pooled connection is that loop's.
        # Proxied requests take the lean client's pool (gateway/upstream_client.py); the httpx
        # client (merged OpenAPI document, readiness) keeps its own. An injected transport (the
        # tests' in-process upstreams) serves both, and so does httpx for an https upstream.
        clients: dict[str, httpx.AsyncClient] = {}
        links: dict[str, UpstreamLink] = {}
        for upstream in routes:
            # /records and /xapi share one pool: they reach the same service.
            if upstream.base_url in links:
                continue
            injected = (upstream_transports or {}).get(upstream.name)
            transport = injected or pooled_transport()
            client = async_client(
                upstream.base_url,
                connect_timeout=settings.connect_timeout_s,
                read_timeout=settings.read_timeout_s,
                transport=transport,
            )
            # The lean client speaks plain HTTP (services inside the cluster); an https upstream
            # stays with httpx.
            lean = injected is None and upstream.base_url.startswith("http://")
            pool = (
                None
                if not lean
                else UpstreamPool(
                    upstream.base_url,
                    connect_timeout=settings.connect_timeout_s,
                    read_timeout=settings.read_timeout_s,
                )
            )
            clients[upstream.base_url] = client
            links[upstream.base_url] = UpstreamLink(client, transport, pool)
        app.state.clients = clients
        app.state.links = links
        try:
            yield
        finally:
            for link in links.values():
                if link.pool is not None:
                    link.pool.close()
                await link.client.aclose()

    app = create_service_app(
        settings,
        title="Pilnveide API",
        description=DESCRIPTION,
        version=version("gateway"),
        migrations=migrations,
        routers=[tokens_router, clients_router, audit_router, sign_ins_router],
        on_startup=[prepare_keys_and_clients],
        # The audit writer last: it stops first, storing what the last requests left pending.
        resources=[upstream_clients, audit_writer],
        readiness_checks=[lambda _app: signing_key_check(keys)],
        # Outermost first (inside the request context): audit, the size limit, then the proxied
        # prefixes, served there without going through the router (gateway/proxied.py).
        middleware=[
            Middleware(AuditMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=body_limits(settings, routes)),
            Middleware(ProxiedRoutes, routes=routes),
        ],
        # Proxied bodies are checked by the service that reads them, not buffered here.
        unchecked_prefixes=[upstream.prefix for upstream in routes],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.keys = keys
    app.state.hasher = hasher
    app.state.rate_limiter = rate_limiter(
        settings.rate_limit_per_s,
        settings.rate_limit_burst,
        settings.rate_limit_redis_url,
        timeout_s=settings.rate_limit_redis_timeout_s,
        retry_s=settings.rate_limit_redis_retry_s,
    )
    app.state.resorts = ResortResolver(settings, keys.signer, transport=catalog_transport)
    app.state.oidc_issuers = Issuers(
        settings.oidc_providers,
        timeout_s=settings.oidc_http_timeout_s,
        discovery_cache_s=settings.oidc_discovery_cache_s,
        jwks_min_reload_s=settings.oidc_jwks_min_reload_s,
    )
    app.state.token_verifier = TokenVerifier(
        key_set,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        leeway_s=settings.auth_leeway_s,
        revocations=_Registry(app),
    )

    async def _oauth_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return exc.response()

    app.add_exception_handler(OAuthError, _oauth_error)
    install_cors(app, settings)  # outermost: preflights are answered before anything else

    def client_for(request: Request, upstream: Upstream) -> httpx.AsyncClient:
        client: httpx.AsyncClient = request.app.state.clients[upstream.base_url]
        return client

    @app.get(
        "/readyz/upstreams",
        response_model=UpstreamsHealth,
        tags=["health"],
        summary="Each service's readiness, as the gateway sees it",
    )
    async def upstreams_ready(request: Request) -> UpstreamsHealth:
        """Each service's /readyz, asked with a short timeout (always 200: a report, not a probe;
        the gateway's own readiness is /readyz)."""
        services = [u for u in routes if u.strip_prefix]
        answers = await asyncio.gather(
            *(
                upstream_readiness(client_for(request, u), settings.upstream_ready_timeout_s)
                for u in services
            )
        )
        checks = {u.name: answer for u, answer in zip(services, answers, strict=True)}
        ready = all(v == "ok" for v in checks.values())
        return UpstreamsHealth(status="ready" if ready else "degraded", checks=checks)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        """The merged OpenAPI document of the gateway and every service."""
        base = app.openapi()
        documents = []
        for upstream in routes:
            if upstream.strip_prefix:
                document = await merged_openapi.fetch(upstream, client_for(request, upstream))
                documents.append((upstream, document))
        passthrough = [u for u in routes if not u.strip_prefix]
        return JSONResponse(merge_documents(base, documents, passthrough))

    install_docs(app, title="Pilnveide API")  # Swagger UI and ReDoc over the merged document

    return app
