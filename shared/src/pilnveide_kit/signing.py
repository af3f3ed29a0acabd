"""The gateway's token signing: RSA keys, their public JWKs, and RS256 access tokens with the
claims every service's verifier (`pilnveide_kit.auth`) expects."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jose import jwk, jwt

from pilnveide_kit.auth import ALGORITHMS


def generate_rsa_private_key(bits: int = 2048) -> str:
    """A new RSA private key, PKCS#8 PEM, unencrypted (the caller protects the file)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def rsa_key_bits(pem: str) -> int:
    """The modulus size of an RSA private key PEM; ValueError when it is not an RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the signing key is not an RSA private key")
    return int(key.key_size)


def _b64u(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def public_jwk(private_pem: str, kid: str | None = None) -> dict[str, str]:
    """The public JWK of an RSA private key; kid defaults to its RFC 7638 thumbprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the signing key is not an RSA private key")
    numbers = key.public_key().public_numbers()
    e, n = _b64u(numbers.e), _b64u(numbers.n)
    if kid is None:
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode()
        kid = kid.rstrip("=")[:16]
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}


@dataclass(frozen=True)
class IssuedToken:
    """A signed access token and the claims inside it."""

    token: str
    claims: dict[str, Any]
    expires_in: int


class TokenSigner:
    """Signs the gateway's access tokens (RS256, kid in the header) with the claims services
    expect: iss, aud, sub, iat, nbf, exp, jti, scope (space-separated), institutions."""

    def __init__(self, private_pem: str, kid: str, *, issuer: str, audience: str) -> None:
        self.private_pem = private_pem
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        # Loading an RSA private key checks it, which takes ~100 ms of CPU: done once here,
        # not for every token (the gateway signs one per HTTP Basic request on /xapi).
        self._key = jwk.construct(private_pem, ALGORITHMS[0])

    def issue(
        self,
        client_id: str,
        scopes: Iterable[str],
        *,
        institutions: Iterable[str] | None = None,
        lifetime_s: int = 900,
        now: float | None = None,
        revoked_before: int | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> IssuedToken:
        """A token for a client; institutions None means unrestricted (claim absent).

        revoked_before: the client's revocation instant; iat is never earlier, so a token
        issued in the same second as a revocation (iat has whole seconds) outlives it.
        extra_claims: more claims (e.g. who signed in through an identity provider); they
        never replace the claims above.
        """
        issued_at = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "iat": max(issued_at, revoked_before or 0),
            "nbf": issued_at,
            "exp": issued_at + lifetime_s,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(set(scopes))),
        }
        if institutions is not None:
            claims["institutions"] = sorted(set(institutions))
        claims = {**(extra_claims or {}), **claims}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHMS[0], headers={"kid": self.kid})
        return IssuedToken(token=str(token), claims=claims, expires_in=lifetime_s)
