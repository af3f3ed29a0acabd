"""Who calls the LRS: a gateway Bearer token, or (development only) one HTTP Basic pair."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request

from learning_records.xapi.settings import XapiSettings
from pilnveide_kit.auth import Principal, TokenVerifier
from pilnveide_kit.errors import Forbidden, Unauthorized

XAPI_SCOPES = frozenset({"xapi:read", "xapi:write"})


class XapiUnauthorized(Unauthorized):
    """No or wrong credentials for the LRS."""

    slug = "xapi-unauthorized"


class XapiForbidden(Forbidden):
    """The credentials lack the xAPI scope the request needs."""

    slug = "xapi-forbidden"


def _challenge(settings: XapiSettings) -> dict[str, str]:
    schemes = ['Bearer realm="xapi"']
    if settings.basic_dev_credentials:
        schemes.insert(0, 'Basic realm="xapi"')
    return {"WWW-Authenticate": ", ".join(schemes)}


def xapi_principal(
    request: Request, authorization: str | None, scope: str, settings: XapiSettings
) -> Principal:
    """The caller of an LRS request with the scope it needs; 401 or 403 otherwise."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        expected = settings.dev_credentials()
        if expected is None:
            raise XapiUnauthorized(
                "HTTP Basic is exchanged for a token at the gateway; send a Bearer token here",
                headers=_challenge(settings),
            )
        try:
            key, _, secret = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            key, secret = "", ""
        key_ok = hmac.compare_digest(key.encode(), expected[0].encode())
        secret_ok = hmac.compare_digest(secret.encode(), expected[1].encode())
        if not (key_ok and secret_ok):
            raise XapiUnauthorized("The key or secret is wrong", headers=_challenge(settings))
        principal = Principal(client_id=key, scopes=XAPI_SCOPES)
        request.state.principal = principal
        return principal
    if scheme.lower() != "bearer" or not value.strip():
        raise XapiUnauthorized(
            "Credentials are required: HTTP Basic (an API client's key and secret) or Bearer",
            headers=_challenge(settings),
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(value.strip())
    if not principal.has(scope):
        raise XapiForbidden(f"The token lacks the scope {scope}", missing_scopes=[scope])
    request.state.principal = principal
    return principal
