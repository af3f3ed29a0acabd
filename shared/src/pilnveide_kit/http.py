"""httpx client factory: explicit timeouts, pooled connections, request-id propagation."""

from __future__ import annotations

import httpx

from pilnveide_kit.logging import REQUEST_ID_HEADER, current_request_id


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def pooled_transport(max_connections: int = 100) -> httpx.AsyncHTTPTransport:
    """A connection pool in which every connection may be kept for the next request: with fewer
    kept than used, a busy proxy opens and closes a connection for most requests."""
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
    )


def async_client(
    base_url: str,
    *,
    connect_timeout: float = 0.5,
    read_timeout: float = 30.0,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled AsyncClient for one upstream; the caller owns its lifetime (a lifespan).

    transport replaces the network (e.g. httpx.ASGITransport to an app in the same process, or
    a pooled_transport the caller also uses directly).
    """
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport or pooled_transport(max_connections),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout * 2),
        event_hooks={"request": [_add_request_id]},
        follow_redirects=False,
    )
