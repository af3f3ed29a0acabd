"""Attachments (multipart/mixed) and signed statements (JWS), keyed to XAPI requirement ids."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jws

from learning_records.xapi.protocol import parse_multipart

BOUNDARY = "xapi-test-boundary"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def _multipart(statement_json: Any, parts: list[tuple[str, bytes]]) -> bytes:
    out = f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n".encode()
    out += json.dumps(statement_json).encode() + b"\r\n"
    for content_type, content in parts:
        digest = hashlib.sha256(content).hexdigest()
        out += (
            f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {digest}\r\n\r\n"
        ).encode()
        out += content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _attachment(
    content: bytes, usage: str = "http://example.lv/usage/certificate", **extra: Any
) -> dict[str, Any]:
    return {
        "usageType": usage,
        "display": {"en-US": "Certificate"},
        "contentType": "text/plain",
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
        **extra,
    }


def _post(lrs: Any, body: bytes) -> Any:
    return lrs.post(
        "/statements",
        content=body,
        headers={"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"},
    )


def test_attachment_stored_and_returned_xapi_00167(lrs: Any, make_statement: Any) -> None:
    """XAPI-00167 / XAPI-00161: attachments are stored; attachments=true returns multipart."""
    content = "Sertifikāts Nr. 1".encode()
    body = make_statement(attachments=[_attachment(content)])
    response = _post(lrs, _multipart(body, [("text/plain", content)]))
    assert response.status_code == 200, response.text
    plain = lrs.get("/statements", params={"statementId": body["id"]})
    assert plain.headers["content-type"].startswith("application/json")
    multi = lrs.get("/statements", params={"statementId": body["id"], "attachments": "true"})
    assert multi.headers["content-type"].startswith("multipart/mixed")
    parts = parse_multipart(multi.content, multi.headers["content-type"])
    assert json.loads(parts[0].body)["id"] == body["id"]
    assert parts[1].body == content
    assert parts[1].headers["x-experience-api-hash"] == hashlib.sha256(content).hexdigest()


def test_file_url_attachment_needs_no_part(lrs: Any, make_statement: Any) -> None:
    """An attachment with fileUrl may be sent as plain JSON, without content."""
    body = make_statement(attachments=[_attachment(b"x", fileUrl="https://example.lv/cert.pdf")])
    assert lrs.post("/statements", json=body).status_code == 200


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([], "without fileUrl"),  # the referenced content is missing
        ([("text/plain", b"content"), ("text/plain", b"stray")], "no statement's"),  # XAPI-00128
        ([("text/plain", b"tampered")], "does not match"),
    ],
)
def test_attachment_parts_must_match_xapi_00128(
    lrs: Any, make_statement: Any, parts: list[tuple[str, bytes]], reason: str
) -> None:
    """XAPI-00128: missing, extra or altered attachment parts are 400 and store nothing."""
    body = make_statement(attachments=[_attachment(b"content")])
    raw = _multipart(body, parts)
    if reason == "does not match":
        raw = raw.replace(
            hashlib.sha256(b"tampered").hexdigest().encode(),
            hashlib.sha256(b"content").hexdigest().encode(),
        )
    response = _post(lrs, raw)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert lrs.statements() == []


def test_attachment_over_limit_is_413(lrs: Any, make_statement: Any) -> None:
    """An attachment larger than RECORDS_XAPI_MAX_ATTACHMENT_BYTES is 413."""
    content = b"a" * 60_000
    body = make_statement(attachments=[_attachment(content)])
    assert _post(lrs, _multipart(body, [("text/plain", content)])).status_code == 413


@pytest.fixture(scope="module")
def private_pem() -> bytes:
    """A signing key for statements."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signed(
    statement: dict[str, Any], pem: bytes, algorithm: str = "RS256", **payload_changes: Any
) -> bytes:
    token = jws.sign({**statement, **payload_changes}, pem, algorithm=algorithm).encode()
    signed = {
        **statement,
        "attachments": [_attachment(token, SIGNATURE, contentType="application/octet-stream")],
    }
    return _multipart(signed, [("application/octet-stream", token)])


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_signed_statement_accepted_xapi_00115(
    lrs: Any, make_statement: Any, private_pem: bytes, algorithm: str
) -> None:
    """XAPI-00115 / XAPI-00117: a JWS signature attachment with RS256/384/512 is accepted."""
    body = make_statement()
    response = _post(lrs, _signed(body, private_pem, algorithm))
    assert response.status_code == 200, response.text
    stored = lrs.get("/statements", params={"statementId": body["id"]}).json()
    assert stored["attachments"][0]["usageType"] == SIGNATURE


def test_signed_statement_other_algorithm_refused_xapi_00117(lrs: Any, make_statement: Any) -> None:
    """XAPI-00117: a signature with another algorithm (HS256) is 400."""
    body = make_statement()
    response = _post(lrs, _signed(body, b"shared-secret-key", "HS256"))
    assert response.status_code == 400
    assert "RS256" in response.json()["detail"]


def test_signed_payload_must_match_statement_xapi_00116(
    lrs: Any, make_statement: Any, private_pem: bytes
) -> None:
    """XAPI-00116: a JWS whose payload is not the statement it signs is 400."""
    body = make_statement()
    raw = _signed(body, private_pem, verb={"id": "http://example.lv/verbs/forged"})
    response = _post(lrs, raw)
    assert response.status_code == 400
    assert "does not match" in response.json()["detail"]
    assert lrs.statements() == []
