"""Database faults as answers: a blip is a retryable 503, a value the database refuses a 422.

- Connection lost or refused, a pool timeout, a serialization failure or a deadlock: 503
  application/problem+json with Retry-After. Nothing was committed (the request's one
  transaction was rolled back), so the client may send the request again.
- A serialization failure or a deadlock is retried once inside the service first: the database
  guarantees the transaction had no effect, and the request's only effects are in it. A lost
  connection is not retried: if it broke during COMMIT the outcome is unknown.
- A value the database refuses (out of range, too long, not representable): 422, nothing stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pilnveide_kit.asgi import passes_through
from pilnveide_kit.errors import problem_response

log = logging.getLogger("pilnveide.faults")

#: Seconds a client is asked to wait after a database fault.
RETRY_AFTER_S = 1
#: SQLSTATEs of transactions the database rolled back so that they may be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
#: Internal marker on a 503 the route wrapper may retry; never sent to a client.
_RETRY_MARKER = b"x-pilnveide-transaction-retryable"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, when the driver gives one."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_transient(exc: BaseException) -> bool:
    """Whether a database error means 'unavailable for now' rather than a bug or a bad value."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection in time
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, (sa_exc.OperationalError, sa_exc.InterfaceError)
        )
    return False


def is_retryable(exc: BaseException) -> bool:
    """Whether the failed transaction can safely be run again (serialization failure, deadlock)."""
    return isinstance(exc, sa_exc.DBAPIError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    """The 503 problem for a transient database error."""
    log.warning(
        "database unavailable",
        extra={"path": request.url.path, "error": type(getattr(exc, "orig", exc)).__name__},
    )
    response = problem_response(
        503,
        "The database is unavailable for a moment; nothing was changed. Retry the request.",
        slug="database-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
        instance=request.url.path,
    )
    if is_retryable(exc):
        response.headers[_RETRY_MARKER.decode()] = "1"
    return response


def install_fault_handlers(app: FastAPI) -> None:
    """Render database faults: transient ones as 503 with Retry-After, refused values as 422."""

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return unavailable_response(request, exc)
        if isinstance(exc, sa_exc.DataError):
            return problem_response(
                422,
                "A value cannot be stored (out of range, too long or not representable); "
                "nothing was changed.",
                title="Unprocessable Content",
                slug="validation-error",
                instance=request.url.path,
            )
        log.error("database error", exc_info=exc, extra={"path": request.url.path})
        return problem_response(
            500,
            "An unexpected error occurred; it has been logged with the request id.",
            instance=request.url.path,
        )

    app.add_exception_handler(sa_exc.DBAPIError, _database)
    app.add_exception_handler(sa_exc.TimeoutError, _database)


class RetryTransactionMiddleware:
    """Serves a request again, once, when its transaction failed with a retryable database error
    (the handlers mark that 503; the mark never reaches the client).

    The body is kept to be replayed up to max_body_bytes; a larger body is streamed through
    and its request is not retried.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, skip_prefixes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.skip_prefixes = tuple(skip_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, and once more if its first answer was a retryable 503."""
        if passes_through(scope, self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        complete = False
        while size <= self.max_body_bytes:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
                break
        if await _attempt(self.app, scope, list(messages), receive, send, may_retry=complete):
            log.info("retrying a transaction", extra={"path": scope.get("path")})
            await _attempt(self.app, scope, list(messages), receive, send, may_retry=False)


async def _attempt(
    app: ASGIApp,
    scope: Scope,
    pending: list[Message],
    receive: Receive,
    send: Send,
    *,
    may_retry: bool,
) -> bool:
    """Serve the request once; True when its answer was a retryable 503, held back for a retry."""
    discard = False

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    async def answer(message: Message) -> None:
        nonlocal discard
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if may_retry and any(k.lower() == _RETRY_MARKER for k, _ in headers):
                discard = True
                return
            message = {**message, "headers": [(k, v) for k, v in headers if k != _RETRY_MARKER]}
        if not discard:
            await send(message)

    await app(scope, replay, answer)
    return discard
