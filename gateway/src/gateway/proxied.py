"""The proxied prefixes (/catalog, /records, /indicators, /xapi) served by one pure ASGI layer.

Every proxied request used to go through the framework's router: match against each route,
then FastAPI's request handling (dependency solving, an exit stack, its own middlewares) for
an endpoint that takes nothing but the request. Here a proxied path is recognised by its
prefix and handled at once, inside the request context, audit and size-limit middlewares as
before; everything else goes on to the application. Errors are rendered by the application's
own exception handlers (problem+json, 503 for a database blip), as the router would have.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.alternate import with_form_credentials
from gateway.guard import admit
from gateway.proxy import UpstreamLink, forward
from gateway.upstreams import Upstream

PROXY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

#: An exception handler of the application: (request, exception) → response.
Handler = Callable[[Request, Exception], Awaitable[Response]]


def upstream_of(routes: Sequence[Upstream], path: str) -> Upstream | None:
    """The upstream whose prefix the path is under (the prefix itself included)."""
    for upstream in routes:
        prefix = upstream.prefix
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return upstream
    return None


class ProxiedRoutes:
    """Serves proxied paths; passes every other request to the application (see the module)."""

    def __init__(self, app: ASGIApp, routes: Sequence[Upstream]) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http" or scope["method"] not in PROXY_METHODS:
            await self.app(scope, receive, send)
            return
        upstream = upstream_of(self.routes, scope["path"])
        if upstream is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await proxy(request, upstream)
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


async def proxy(request: Request, upstream: Upstream) -> Any:
    """Admit the caller (unless the path is public) and forward the request."""
    link: UpstreamLink = request.app.state.links[upstream.base_url]
    if upstream.is_public(request.method, request.url.path):
        # Public paths pass without the caller's credentials: a service never sees a secret.
        return await forward(request, upstream, link, authorization="")
    if upstream.name == "xapi":
        request = await with_form_credentials(request)
    _principal, token = await admit(request, allow_basic=upstream.name == "xapi")
    return await forward(request, upstream, link, authorization=f"Bearer {token}")


def _handler_for(app: Any, exc: Exception) -> Handler | None:
    """The application's handler for the exception, as its exception middleware finds it
    (nearest class first; the catch-all for Exception is the outer error middleware's)."""
    handlers: dict[Any, Handler] = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
