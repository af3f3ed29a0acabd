"""Signed documents (compact JWS), as xAPI signed statements carry them."""

from __future__ import annotations

from typing import Any


class JwsMalformed(ValueError):
    """The text is not a compact JWS."""


class JwsAlgorithmRefused(ValueError):
    """The JWS uses an algorithm outside the accepted ones."""


class JwsSignatureInvalid(ValueError):
    """The JWS does not verify against the certificate it carries."""


def open_signed_document(token: str, algorithms: list[str]) -> tuple[dict[str, Any], bytes]:
    """Header and payload of a compact JWS (e.g. an xAPI signed statement).

    The algorithm must be one of `algorithms`; when the header carries an x5c certificate
    chain, the signature is verified with the first certificate's key.
    """
    from jose import jws
    from jose.exceptions import JOSEError

    try:
        header = jws.get_unverified_header(token)
        payload = jws.get_unverified_claims(token)
    except (JOSEError, ValueError) as exc:
        raise JwsMalformed("not a compact JWS") from exc
    algorithm = header.get("alg")
    if algorithm not in algorithms:
        raise JwsAlgorithmRefused(f"algorithm {algorithm!r} is not accepted")
    chain = header.get("x5c")
    if isinstance(chain, list) and chain:
        import base64

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
            pem = certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            jws.verify(token, pem, algorithms=[algorithm])
        except (JOSEError, ValueError) as exc:
            raise JwsSignatureInvalid("the signature does not verify") from exc
    return dict(header), bytes(payload)
