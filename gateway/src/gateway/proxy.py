"""Streaming reverse proxy: one pooled httpx.AsyncClient per upstream.

The path is forwarded as the client sent it (still percent-encoded, never re-encoded); a path
no service could mean (control characters, an empty or dot segment) is refused with 400 here.
Hop-by-hop fields (RFC 9110 §7.6.1), including those the Connection field names, are dropped
both ways, and a Location pointing at a service is rewritten to the gateway's public URL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx
from fastapi import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.upstream_client import (
    UpstreamFailed,
    UpstreamPool,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.upstreams import Upstream
from pilnveide_kit.errors import problem_response

# RFC 9110 §7.6.1 hop-by-hop fields, never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
}
#: Fields the gateway's own HTTP server puts on every answer: an upstream's copy would be a
#: second one (two Date fields break clients that parse it, such as the ADL suite comparing it
#: with X-Experience-API-Consistent-Through). As nginx does, the gateway answers with its own.
SET_BY_GATEWAY = {"date", "server"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


#: The same, as the bytes an ASGI scope carries (names lower-case).
_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
_SET_BY_GATEWAY_BYTES = frozenset(name.encode() for name in SET_BY_GATEWAY)


def _named_by_connection(raw: list[tuple[bytes, bytes]]) -> set[bytes]:
    """The fields a message's Connection field names (hop-by-hop too, RFC 9110 §7.6.1)."""
    named: set[bytes] = set()
    for key, value in raw:
        if key.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    named.discard(b"")
    return named


class InvalidPath(ValueError):
    """A proxied path no service could mean."""


def upstream_raw_path(request: Request, upstream: Upstream) -> str:
    """The path to send upstream, as the client encoded it; InvalidPath when it is not one."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    raw_path = raw.decode("latin-1").split("?", 1)[0]
    decoded = unquote(raw_path, errors="strict")
    if _CONTROL.search(decoded) or "\\" in decoded:
        raise InvalidPath("The path contains a control character")
    rest = upstream.upstream_path(raw_path)
    segments = rest.split("/")[1:]
    if any(unquote(seg) in (".", "..") for seg in segments):
        raise InvalidPath("The path has a dot segment")
    if "" in segments[:-1]:
        raise InvalidPath("The path has an empty segment (//)")
    return rest


def public_location(location: str, request: Request, upstream: Upstream, base_url: str) -> str:
    """A Location pointing at the service, as the client must follow it through the gateway."""
    target = urlsplit(location)
    service = urlsplit(base_url)
    if target.scheme and (target.scheme, target.netloc) != (service.scheme, service.netloc):
        return location  # somewhere else entirely: leave it
    if not target.scheme and not location.startswith("/"):
        return location  # relative to the current path: already right
    path = target.path
    if upstream.strip_prefix:
        path = upstream.prefix + path
    public = str(request.base_url).rstrip("/") + path
    return public + (f"?{target.query}" if target.query else "")


def _request_headers(
    scope: Scope, upstream: Upstream, authorization: str | None = None
) -> list[tuple[bytes, bytes]]:
    """The fields to send upstream, as the bytes received (Starlette decodes header bytes as
    latin-1: a value beyond ASCII, an Idempotency-Key in UTF-8 say, is the upstream's to judge,
    not a crash). authorization: None forwards the client's field, "" drops it, anything else
    replaces it."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    state = scope.get("state") or {}
    request_id: str | None = state.get("request_id")
    dropped = _HOP_BY_HOP_BYTES | _named_by_connection(raw)
    headers: list[tuple[bytes, bytes]] = []
    host = length = None
    for key, value in raw:
        name = key.lower()
        if name == b"host":
            host = value if host is None else host
        elif name == b"content-length":
            length = value if length is None else length
        elif (
            name in dropped
            or name.startswith(b"x-forwarded-")
            or (authorization is not None and name == b"authorization")
            or (request_id and name == b"x-request-id")
        ):
            continue
        else:
            headers.append((name, value))
    if authorization:
        headers.append((b"authorization", authorization.encode("latin-1")))
    client = scope.get("client")
    headers += [
        (b"x-forwarded-for", client[0].encode("latin-1") if client else b""),
        (b"x-forwarded-proto", str(scope.get("scheme", "http")).encode("latin-1")),
        (b"x-forwarded-host", host or b""),
    ]
    if upstream.strip_prefix:
        headers.append((b"x-forwarded-prefix", upstream.prefix.encode("latin-1")))
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    if length is not None:
        headers.append((b"content-length", length))
    return headers


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        name = key.lower()
        if name == b"content-length":
            return value.strip() != b"0"
        if name == b"transfer-encoding":
            return True
    return False


class UpstreamAnswer:
    """The upstream's answer streamed to the client as it arrives (an ASGI response).

    Sent as raw ASGI messages rather than through a StreamingResponse, whose task watching for
    a disconnect costs more than the rest of the hop for a small answer; the upstream answer
    is released (its connection back in the pool, or closed) however the sending ends.
    """

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        chunks: AsyncIterator[bytes],
        release: Callable[[], Awaitable[None]],
    ) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the status, the fields and every chunk of the body as received."""
        try:
            await send(
                {"type": "http.response.start", "status": self.status, "headers": self.headers}
            )
            async for chunk in self.chunks:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.release()


def _answer_headers(
    raw: list[tuple[bytes, bytes]], request: Request, upstream: Upstream, base_url: str
) -> list[tuple[bytes, bytes]]:
    """The upstream's fields without hop-by-hop ones and those the gateway sets itself, every
    repeated field kept; a Location at the service rewritten to the gateway's public URL."""
    dropped = _HOP_BY_HOP_BYTES | _SET_BY_GATEWAY_BYTES | _named_by_connection(raw)
    headers = []
    for key, value in raw:
        name = key.lower()
        if name in dropped:
            continue
        if name == b"location":
            location = public_location(value.decode("latin-1"), request, upstream, base_url)
            value = location.encode("latin-1")
        headers.append((name, value))
    return headers


#: Bytes a request target may not carry as they are (spaces, controls, beyond ASCII): sent
#: percent-encoded, as httpx did.
_UNSAFE_TARGET = re.compile(rb"[\x00-\x20\x7f-\xff]")


def _safe_target(raw: bytes) -> bytes:
    if not _UNSAFE_TARGET.search(raw):
        return raw
    return _UNSAFE_TARGET.sub(lambda m: b"%%%02X" % m.group()[0], raw)


def _unavailable(upstream: Upstream, reason: str) -> Response:
    return problem_response(
        503,
        f"The {upstream.name} service is unavailable ({reason}); try again later.",
        slug="upstream-unavailable",
        headers={"Retry-After": "5"},
        upstream=upstream.name,
    )


def _timed_out(upstream: Upstream) -> Response:
    return problem_response(
        504,
        f"The {upstream.name} service did not answer in time.",
        slug="upstream-timeout",
        upstream=upstream.name,
    )


def _failed(upstream: Upstream, reason: str) -> Response:
    return problem_response(
        502,
        f"The {upstream.name} service failed to answer ({reason}).",
        slug="upstream-error",
        upstream=upstream.name,
    )


async def forward(
    request: Request,
    upstream: Upstream,
    link: UpstreamLink,
    *,
    authorization: str | None = None,
) -> UpstreamAnswer | Response:
    """Send the request to its upstream and stream the answer back (authorization: the header
    to send instead of the client's; "" sends none).

    Through the lean client (upstream_client.py) when the link has its pool; through the httpx
    transport the tests inject otherwise: straight to the transport, as the client's cookie
    jar, redirect and auth layers and event hooks have nothing to do for a proxy (and a cookie
    jar shared by every caller's requests would be wrong as well as slow).
    """
    scope = request.scope
    try:
        path = upstream_raw_path(request, upstream)
    except (InvalidPath, UnicodeDecodeError) as exc:
        return problem_response(
            400,
            f"The path cannot be forwarded: {exc}",
            slug="invalid-path",
            instance=request.url.path,
        )
    query: bytes = scope.get("query_string", b"")
    target = _safe_target(path.encode("latin-1") + (b"?" + query if query else b""))
    headers = _request_headers(scope, upstream, authorization)
    body = request.stream() if _has_body(scope) else None
    if link.pool is not None:
        return await _forward_lean(request, upstream, link.pool, target, headers, body)
    return await _forward_httpx(request, upstream, link, target, headers, body)


async def _forward_lean(
    request: Request,
    upstream: Upstream,
    pool: UpstreamPool,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: AsyncIterator[bytes] | None,
) -> UpstreamAnswer | Response:
    try:
        answer = await pool.send(request.method, target, headers, body)
    except UpstreamUnavailable as exc:
        return _unavailable(upstream, str(exc))
    except UpstreamTimeout:
        return _timed_out(upstream)
    except UpstreamFailed as exc:
        return _failed(upstream, str(exc))

    async def release() -> None:
        answer.release()

    return UpstreamAnswer(
        answer.status_code,
        _answer_headers(answer.headers, request, upstream, upstream.base_url),
        answer.body(),
        release,
    )


async def _forward_httpx(
    request: Request,
    upstream: Upstream,
    link: UpstreamLink,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: AsyncIterator[bytes] | None,
) -> UpstreamAnswer | Response:
    client = link.client
    try:
        url = client.base_url.copy_with(raw_path=client.base_url.raw_path.rstrip(b"/") + target)
        outgoing = client.build_request(request.method, url, headers=headers, content=body)
    except httpx.InvalidURL as exc:
        return problem_response(
            400,
            f"The path cannot be forwarded: {exc}",
            slug="invalid-path",
            instance=request.url.path,
        )
    try:
        answer = await link.transport.handle_async_request(outgoing)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return _unavailable(upstream, type(exc).__name__)
    except httpx.TimeoutException:
        return _timed_out(upstream)
    except httpx.TransportError as exc:
        return _failed(upstream, type(exc).__name__)
    answer.request = outgoing
    return UpstreamAnswer(
        answer.status_code,
        _answer_headers(answer.headers.raw, request, upstream, str(client.base_url)),
        answer.aiter_raw(),
        answer.aclose,
    )


@dataclass(frozen=True)
class UpstreamLink:
    """How the gateway reaches one service: the httpx client (the merged OpenAPI document,
    readiness), its transport, and the lean client's pool that proxied requests take (None
    when a transport is injected: the tests' in-process upstreams)."""

    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    pool: UpstreamPool | None
