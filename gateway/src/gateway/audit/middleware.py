"""Records an audit entry for every write and every read of personal data.

Audited: every method but GET, HEAD and OPTIONS, and every request under /records and /xapi
(personal learning data). The entry is made when the answer's status is known and handed to
the AuditWriter, which stores entries in batches off the request path (audit/writer.py). When
the writer cannot take it (too many entries wait because the store is failing) the entry is
written before the first byte of the answer leaves the gateway, and if that fails the client
gets a 500 (503 for a database blip) instead of the data (fail closed). The caller is the
verified token's client (or the client id presented to /auth/token); requests without valid
credentials are audited with no client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit.models import AuditEntry
from gateway.audit.writer import AuditWriter
from gateway.models import utcnow
from pilnveide_kit.db import session_scope
from pilnveide_kit.faults import RETRY_AFTER_S, is_transient

log = logging.getLogger("pilnveide.audit")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
PERSONAL_PREFIXES = ("/records", "/xapi")


def is_audited(method: str, path: str) -> bool:
    """Whether a request goes into the audit log."""
    if method.upper() not in READ_METHODS:
        return True
    return any(path == p or path.startswith(p + "/") for p in PERSONAL_PREFIXES)


def _client_of(state: dict[str, Any]) -> str | None:
    principal = state.get("principal")
    if principal is not None:
        return str(principal.client_id)
    client_id = state.get("audit_client_id")
    return str(client_id)[:64] if client_id else None


def _token_of(state: dict[str, Any]) -> str | None:
    principal = state.get("principal")
    token_id = getattr(principal, "token_id", None)
    return str(token_id)[:64] if token_id else None


def _storable(path: str) -> str:
    """The path with control characters percent-encoded again (PostgreSQL refuses NUL)."""
    return _CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", path)


def write_entry(engine: Any, entry: AuditEntry) -> None:
    """Store one entry in its own transaction."""
    with session_scope(engine) as session:
        session.add(entry)


class AuditMiddleware:
    """Pure ASGI, so streamed bodies pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, auditing it if it is a write or a personal-data read."""
        if scope["type"] != "http" or not is_audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        application = scope["app"]
        if not application.state.settings.audit_enabled:
            await self.app(scope, receive, send)
            return
        failed = False

        async def audited_send(message: Message) -> None:
            nonlocal failed
            if failed:
                return
            if message["type"] == "http.response.start":
                state = scope.get("state", {})
                row = {
                    "at": utcnow(),
                    "client_id": _client_of(state),
                    "method": scope["method"][:10],
                    "path": _storable(scope["path"])[:2048],
                    "status": int(message["status"]),
                    "request_id": state.get("request_id"),
                    "token_id": _token_of(state),
                }
                writer: AuditWriter | None = getattr(application.state, "audit_writer", None)
                if writer is None or not writer.add(row):
                    # No writer running, or too many entries wait (the store is failing): this
                    # request's entry is written before it is answered, or it is not answered.
                    try:
                        await run_in_threadpool(
                            write_entry, application.state.engine, AuditEntry(**row)
                        )
                    except Exception as exc:
                        log.exception("audit entry could not be written; not answering")
                        failed = True
                        await _send_audit_failure(send, transient=is_transient(exc))
                        return
            await send(message)

        await self.app(scope, receive, audited_send)


async def _send_audit_failure(send: Send, *, transient: bool) -> None:
    # A database blip is worth retrying (503 + Retry-After); anything else is our fault (500).
    status, title = (503, "Service Unavailable") if transient else (500, "Internal Server Error")
    body = (
        f'{{"type":"about:blank","title":"{title}","status":{status},'
        '"detail":"The request could not be audited, so it is not answered."}'
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if transient:
        headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
