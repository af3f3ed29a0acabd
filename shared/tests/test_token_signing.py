"""The kit's signing half: tokens the gateway signs are exactly what every verifier accepts."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from pilnveide_kit.auth import KeySet, TokenVerifier
from pilnveide_kit.errors import Unauthorized
from pilnveide_kit.signing import TokenSigner, generate_rsa_private_key, public_jwk, rsa_key_bits


@pytest.fixture(scope="module")
def pem() -> str:
    return generate_rsa_private_key()


def _verifier(*jwks: dict[str, str]) -> TokenVerifier:
    return TokenVerifier(
        KeySet(jwks_json=json.dumps({"keys": list(jwks)})),
        issuer="pilnveide-gateway",
        audience="pilnveide",
    )


def test_signed_token_carries_the_agreed_claims(pem: str) -> None:
    jwk = public_jwk(pem)
    signer = TokenSigner(pem, jwk["kid"], issuer="pilnveide-gateway", audience="pilnveide")
    issued = signer.issue("lms", ["xapi:write", "records:write"], institutions=["VK"])
    header = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "kid": jwk["kid"], "typ": "JWT"}
    assert set(issued.claims) == {
        "iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope", "institutions"
    }  # fmt: skip
    principal = _verifier(jwk).verify(issued.token)
    assert principal.client_id == "lms"
    assert principal.scopes == {"xapi:write", "records:write"}
    assert principal.institutions == {"VK"}
    assert principal.token_id == issued.claims["jti"]


def test_unrestricted_token_has_no_institutions_claim(pem: str) -> None:
    signer = TokenSigner(pem, "k1", issuer="pilnveide-gateway", audience="pilnveide")
    issued = signer.issue("admin-tool", ["admin"])
    assert "institutions" not in issued.claims
    assert _verifier(public_jwk(pem, "k1")).verify(issued.token).institutions is None


def test_kid_is_a_stable_thumbprint_and_public_jwk_has_no_private_parts(pem: str) -> None:
    assert public_jwk(pem)["kid"] == public_jwk(pem)["kid"]
    assert public_jwk(generate_rsa_private_key())["kid"] != public_jwk(pem)["kid"]
    assert set(public_jwk(pem)) == {"kty", "use", "alg", "kid", "n", "e"}
    assert rsa_key_bits(pem) == 2048


def test_token_from_another_key_with_the_same_kid_is_refused(pem: str) -> None:
    impostor = TokenSigner(
        generate_rsa_private_key(), "k1", issuer="pilnveide-gateway", audience="pilnveide"
    )
    with pytest.raises(Unauthorized):
        _verifier(public_jwk(pem, "k1")).verify(impostor.issue("x", ["admin"]).token)


def test_expired_signed_token_is_refused(pem: str) -> None:
    signer = TokenSigner(pem, "k1", issuer="pilnveide-gateway", audience="pilnveide")
    old = signer.issue("x", ["admin"], lifetime_s=60, now=time.time() - 120)
    with pytest.raises(Unauthorized, match="expired"):
        _verifier(public_jwk(pem, "k1")).verify(old.token)


def test_key_file_change_is_picked_up_at_once(pem: str, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(pem, "old")]}))
    keys = KeySet(jwks_file=path, min_reload_interval_s=3600)
    assert keys.get("old") is not None
    path.write_text(json.dumps({"keys": [public_jwk(pem, "new"), public_jwk(pem, "old")]}))
    assert keys.get("new") is not None


def test_unknown_kids_do_not_hammer_the_loader(pem: str) -> None:
    reads: list[int] = []
    keys = KeySet(loader=lambda: reads.append(1) or {"keys": [public_jwk(pem, "old")]})
    keys.get("old")
    keys.get("nope")
    keys.get("nope")
    assert len(reads) == 1  # the loader is rate-limited by min_reload_interval_s
