"""The xAPI HTTP protocol: versions, the request a handler sees, multipart bodies, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pilnveide_kit.boundary import InvalidText, strict_json_loads
from pilnveide_kit.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
)

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
VERSION_HEADER = re.compile(r"^(1\.0(?:\.[0-3])?|2\.0(?:\.\d+)?)$")
JSON_TYPE = "application/json"
MULTIPART_MIXED = "multipart/mixed"


class XapiBadRequest(BadRequest):
    """The request breaks a rule of the xAPI communication specification."""

    slug = "xapi-bad-request"


class XapiVersionMissing(XapiBadRequest):
    """No or an unsupported X-Experience-API-Version header."""

    slug = "xapi-version"


class StatementConflict(Conflict):
    """A statement with this id exists with different content."""

    slug = "xapi-statement-conflict"


class StatementNotFound(NotFound):
    """No statement with this id (or it is voided / not voided)."""

    slug = "xapi-statement-not-found"


class DocumentNotFound(NotFound):
    """No document under these keys."""

    slug = "xapi-document-not-found"


class DocumentConflict(Conflict):
    """A document exists and the request gave no If-Match or If-None-Match."""

    slug = "xapi-document-conflict"


class DocumentPreconditionFailed(PreconditionFailed):
    """If-Match / If-None-Match did not hold."""

    slug = "xapi-precondition-failed"


class XapiPayloadTooLarge(PayloadTooLarge):
    """The body, a batch or an attachment is over the configured limit."""

    slug = "xapi-payload-too-large"


def response_version(requested: str | None, default: str = "2.0.0") -> str:
    """The version the LRS answers with for a requested X-Experience-API-Version."""
    if requested and requested.startswith("2."):
        return "2.0.0"
    if requested and requested.startswith("1.0"):
        return "1.0.3"
    return default


def check_version(value: str | None) -> str:
    """The request's xAPI version; a 400 when it is missing or not one this LRS serves."""
    if value is None:
        raise XapiVersionMissing("The X-Experience-API-Version header is required")
    value = value.strip()
    if not VERSION_HEADER.match(value):
        raise XapiVersionMissing(
            f"X-Experience-API-Version {value!r} is not supported; use 1.0.3 or 2.0.0",
            supported=list(SUPPORTED_VERSIONS),
        )
    return value


@dataclass
class Part:
    """One part of a multipart body."""

    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The part's media type, lower-case, without parameters."""
        return media_type(self.headers.get("content-type"))


@dataclass
class XapiRequest:
    """A request as the handlers see it (alternate request syntax already unwrapped)."""

    method: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    version: str = "1.0.3"
    principal: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        """The body's media type, lower-case, without parameters."""
        return media_type(self.headers.get("content-type"))

    def json_body(self) -> Any:
        """The body parsed as JSON; a 400 when it is not."""
        return xapi_json(self.body, "body")


def xapi_json(data: bytes, name: str) -> Any:
    """JSON parsed by the kit's strict rules (400 in xAPI's words; text with NUL or a lone
    surrogate is the kit's 422 naming the field): the LRS stores nothing it cannot give back."""
    try:
        return strict_json_loads(data, name=name)
    except InvalidText:
        raise
    except BadRequest as exc:
        raise XapiBadRequest(exc.detail or f"The {name} is not valid JSON") from exc


def media_type(value: str | None) -> str:
    """The media type of a Content-Type value, lower-case, without parameters."""
    return (value or "").split(";", 1)[0].strip().lower()


def content_type_param(value: str | None, name: str) -> str | None:
    """A parameter (e.g. boundary) of a Content-Type value."""
    for piece in (value or "").split(";")[1:]:
        key, _, raw = piece.strip().partition("=")
        if key.strip().lower() == name:
            return raw.strip().strip('"')
    return None


def parse_multipart(body: bytes, content_type: str | None) -> list[Part]:
    """The parts of a multipart/mixed body; a 400 when it is malformed."""
    boundary = content_type_param(content_type, "boundary")
    if not boundary:
        raise XapiBadRequest("A multipart/mixed body needs a boundary parameter")
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise XapiBadRequest("The multipart/mixed body has no parts")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
        if not sep:
            if not chunk.strip():
                continue
            head, content = b"", chunk
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers=headers, body=content))
    if not parts:
        raise XapiBadRequest("The multipart/mixed body has no parts")
    return parts


def build_multipart(parts: list[tuple[dict[str, str], bytes]], boundary: str) -> bytes:
    """A multipart/mixed body of (headers, content) parts."""
    out = bytearray()
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        for name, value in headers.items():
            out += f"{name}: {value}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return bytes(out)
