"""Request size limit: 413 problem for a declared Content-Length or a streamed body too big."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import GatewaySettings
from gateway.upstreams import Upstream
from pilnveide_kit.errors import problem_response

#: The largest body a path may carry.
BodyLimit = Callable[[str], int]


def body_limits(settings: GatewaySettings, routes: Sequence[Upstream]) -> BodyLimit:
    """Per-route body limits matching what each service accepts: /records up to the records
    bulk limit (docs/records.md), /xapi up to the LRS's, anything else max_request_bytes."""
    by_prefix = {
        "records": settings.records_max_request_bytes,
        "xapi": settings.xapi_max_request_bytes,
    }
    prefixes = [(u.prefix, by_prefix.get(u.name, settings.max_request_bytes)) for u in routes]

    def limit(path: str) -> int:
        for prefix, max_bytes in prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return max_bytes
        return settings.max_request_bytes

    return limit


class BodyTooLarge(Exception):
    """Raised into the application when the streamed body passes the limit."""


class BodySizeLimitMiddleware:
    """Refuses bodies over max_bytes, counting the bytes actually received (chunked too)."""

    def __init__(self, app: ASGIApp, max_bytes: int | BodyLimit) -> None:
        self.app = app
        self.limit: BodyLimit = max_bytes if callable(max_bytes) else (lambda _path: max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request under the size limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the application answers, the client gets the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413,
            f"The request body is larger than {max_bytes} bytes",
            slug="payload-too-large",
            instance=scope.get("path"),
            max_bytes=max_bytes,
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
