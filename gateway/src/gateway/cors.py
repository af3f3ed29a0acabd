"""CORS for browser frontends: preflights answered before authentication, origins from settings."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from gateway.settings import GatewaySettings

#: Headers a browser app may send: credentials, content negotiation and the API's own headers.
ALLOWED_HEADERS = [
    "Accept",
    "Accept-Language",
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Experience-API-Version",
    "X-Request-ID",
]
#: Response headers a browser app may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = [
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "X-Experience-API-Version",
    "X-Request-ID",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def install_cors(app: FastAPI, settings: GatewaySettings) -> None:
    """Answer CORS for the configured origins; no origin configured, no CORS header at all.

    Added after the other middlewares, so it wraps them: a preflight never reaches
    authentication, the size limit or the audit log. Bearer tokens travel in a header, not in
    cookies, so credentials mode stays off and a browser never sends cookies to the API.
    """
    origins = settings.cors_origins
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=settings.cors_max_age_s,
    )
