"""Writes an audit entry for every write and every read of personal data, before answering.

Audited: every method but GET, HEAD and OPTIONS, and every request under /records and /xapi
(personal learning data). The entry is written when the answer's status is known and before
its first byte leaves the gateway; if it cannot be written, the client gets a 500 instead of
the data (fail closed). The caller is the verified token's client (or the client id presented
to /auth/token); requests without valid credentials are audited with no client.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit.models import AuditEntry
from gateway.models import utcnow
from pilnveide_kit.db import session_scope

log = logging.getLogger("pilnveide.audit")

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
                entry = AuditEntry(
                    at=utcnow(),
                    client_id=_client_of(state),
                    method=scope["method"][:10],
                    path=scope["path"][:2048],
                    status=int(message["status"]),
                    request_id=state.get("request_id"),
                )
                try:
                    await run_in_threadpool(write_entry, application.state.engine, entry)
                except Exception:
                    log.exception("audit entry could not be written; answering 500")
                    failed = True
                    await _send_audit_failure(send)
                    return
            await send(message)

        await self.app(scope, receive, audited_send)


async def _send_audit_failure(send: Send) -> None:
    body = (
        b'{"type":"about:blank","title":"Internal Server Error","status":500,'
        b'"detail":"The request could not be audited, so it is not answered."}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
