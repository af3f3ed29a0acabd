"""Streaming reverse proxy: one pooled httpx.AsyncClient per upstream."""

from __future__ import annotations

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
}
#: Fields the gateway's own HTTP server puts on every answer: an upstream's copy would be a
#: second one (two Date fields break clients that parse it, such as the ADL suite comparing it
#: with X-Experience-API-Consistent-Through). As nginx does, the gateway answers with its own.
SET_BY_GATEWAY = {"date", "server"}


def _request_headers(
    request: Request, upstream: Upstream, authorization: str | None = None
) -> list[tuple[str, str]]:
    # authorization: None forwards the client's header, "" drops it, anything else replaces it.
    replaced = {"host", "content-length"} | (
        {"authorization"} if authorization is not None else set()
    )
    headers = [
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in replaced
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
    return headers


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
    url = httpx.URL(
        path=upstream.upstream_path(request.url.path),
        query=request.url.query.encode("latin-1"),
    )
    outgoing = client.build_request(
        request.method,
        url,
        headers=_request_headers(request, upstream, authorization),
        content=request.stream() if _has_body(request) else None,
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
    headers = {
        k: v
        for k, v in answer.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in SET_BY_GATEWAY
    }
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )
