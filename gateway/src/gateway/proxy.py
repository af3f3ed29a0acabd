"""Streaming reverse proxy: one pooled httpx.AsyncClient per upstream.

The path is forwarded as the client sent it (still percent-encoded, never re-encoded); a path
no service could mean (control characters, an empty or dot segment) is refused with 400 here.
Hop-by-hop fields (RFC 9110 §7.6.1), including those the Connection field names, are dropped
both ways, and a Location pointing at a service is rewritten to the gateway's public URL.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

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


def _hop_by_hop(headers: httpx.Headers | Request) -> set[str]:
    """The fixed hop-by-hop fields and any the message's Connection field names."""
    values = (
        headers.headers.getlist("connection")
        if isinstance(headers, Request)
        else headers.get_list("connection")
    )
    named = {token.strip().lower() for value in values for token in value.split(",")}
    named.discard("")
    return HOP_BY_HOP | named


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
    request: Request, upstream: Upstream, authorization: str | None = None
) -> list[tuple[bytes, bytes]]:
    # authorization: None forwards the client's header, "" drops it, anything else replaces it.
    replaced = {"host", "content-length"} | (
        {"authorization"} if authorization is not None else set()
    )
    dropped = _hop_by_hop(request)
    headers = [
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in dropped and k.lower() not in replaced
    ]
    if authorization:
        headers.append(("authorization", authorization))
    headers = [(k, v) for k, v in headers if not k.lower().startswith("x-forwarded-")]
    client = request.client.host if request.client else ""
    headers += [
        ("x-forwarded-for", client),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
    ]
    if upstream.strip_prefix:
        headers.append(("x-forwarded-prefix", upstream.prefix))
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
        headers.append(("x-request-id", request_id))
    if "content-length" in request.headers:
        headers.append(("content-length", request.headers["content-length"]))
    # As bytes, exactly as received: Starlette decodes header bytes as latin-1, and a value
    # beyond ASCII (an Idempotency-Key in UTF-8, say) is the upstream's to judge, not a crash.
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() != "0"
    return "transfer-encoding" in request.headers


async def forward(
    request: Request,
    upstream: Upstream,
    client: httpx.AsyncClient,
    *,
    authorization: str | None = None,
) -> Response:
    """Send the request to its upstream and stream the answer back (authorization: the header
    to send instead of the client's; "" sends none)."""
    try:
        path = upstream_raw_path(request, upstream)
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = client.base_url.copy_with(
            raw_path=(client.base_url.raw_path.rstrip(b"/") + path.encode("latin-1"))
            + (b"?" + query.encode("latin-1") if query else b"")
        )
        outgoing = client.build_request(
            request.method,
            url,
            headers=_request_headers(request, upstream, authorization),
            content=request.stream() if _has_body(request) else None,
        )
    except (InvalidPath, httpx.InvalidURL, UnicodeDecodeError) as exc:
        return problem_response(
            400,
            f"The path cannot be forwarded: {exc}",
            slug="invalid-path",
            instance=request.url.path,
        )
    try:
        answer = await client.send(outgoing, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return problem_response(
            503,
            f"The {upstream.name} service is unavailable ({type(exc).__name__}); try again later.",
            slug="upstream-unavailable",
            headers={"Retry-After": "5"},
            upstream=upstream.name,
        )
    except httpx.TimeoutException:
        return problem_response(
            504,
            f"The {upstream.name} service did not answer in time.",
            slug="upstream-timeout",
            upstream=upstream.name,
        )
    except httpx.TransportError as exc:
        return problem_response(
            502,
            f"The {upstream.name} service failed to answer ({type(exc).__name__}).",
            slug="upstream-error",
            upstream=upstream.name,
        )
    dropped = _hop_by_hop(answer.headers) | SET_BY_GATEWAY
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
    if "location" in answer.headers:
        headers["location"] = public_location(
            answer.headers["location"], request, upstream, str(client.base_url)
        )
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )
