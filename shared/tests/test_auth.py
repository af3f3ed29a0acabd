"""The kit's JWT module: what it accepts and every forgery it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.auth import KeySet, TokenVerifier
from pilnveide_kit.errors import Unauthorized
from pilnveide_kit.testing import TokenFactory


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
def verifier(tokens: TokenFactory) -> TokenVerifier:
    return TokenVerifier(
        KeySet(jwks_json=tokens.jwks_json), issuer=tokens.issuer, audience=tokens.audience
    )


def test_valid_token_gives_principal(verifier: TokenVerifier, tokens: TokenFactory) -> None:
    principal = verifier.verify(tokens.token("records:read", institutions=["VK", "FM"]))
    assert principal.scopes == {"records:read"}
    assert principal.can_see("VK") and not principal.can_see("TM")


def _hs256(claims: dict, tokens: TokenFactory) -> str:  # type: ignore[type-arg]
    """The classic key-confusion forgery: HMAC-SHA256 keyed with the public PEM."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': tokens.kid})}.{_b64(claims)}"
    mac = hmac.new(tokens.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _forgeries(tokens: TokenFactory) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": "x",
        "iat": now,
        "exp": now + 60,
        "scope": "admin",
    }
    return {
        "alg none": f"{_b64({'alg': 'none', 'kid': tokens.kid})}.{_b64(claims)}.",
        "hs256 with public key": _hs256(claims, tokens),
        "wrong issuer": tokens.token("admin", iss="someone-else"),
        "wrong audience": tokens.token("admin", aud="other-api"),
        "expired": tokens.token("admin", exp=now - 10, iat=now - 100),
        "not yet valid": tokens.token("admin", nbf=now + 600),
        "unknown kid": TokenFactory(kid="other-key").token("admin"),
        "malformed": "not.a.token",
        "tampered payload": ".".join(
            [
                tokens.token("admin").split(".")[0],
                _b64({**claims, "scope": "admin extra"}),
                tokens.token("admin").split(".")[2],
            ]
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "hs256 with public key",
        "wrong issuer",
        "wrong audience",
        "expired",
        "not yet valid",
        "unknown kid",
        "malformed",
        "tampered payload",
    ],
)
def test_forged_or_invalid_tokens_are_rejected(
    verifier: TokenVerifier, tokens: TokenFactory, case: str
) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(_forgeries(tokens)[case])


def test_route_scope_check(client: TestClient, tokens: TokenFactory) -> None:
    assert client.get("/secure").status_code == 401
    missing = client.get("/secure", headers=tokens.headers("records:read"))
    assert missing.status_code == 403
    assert missing.headers["content-type"] == "application/problem+json"
    allowed = client.get("/secure", headers=tokens.headers("catalog:read", client_id="lms"))
    assert allowed.json() == {"client": "lms"}


def test_openapi_shows_required_scopes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["paths"]["/secure"]["get"]["security"] == [
        {"OAuth2ClientCredentials": ["catalog:read"]}
    ]
