"""Logging (JSON, or text at a terminal), one line per request, with a request id (X-Request-ID).

Every line is redacted on its way out (`redact`): query strings of URLs (an xAPI `agent=` may
carry a personal code), request-body values quoted in validation errors, and key values in
database error details never reach the log. Access lines carry the path only.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pilnveide_kit.errors import public_path

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = logging.getLogger("pilnveide.access")
error_log = logging.getLogger("pilnveide.errors")

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "color_message",
}


#: A URL's query string: from "?" to the next space or the end (the path stays readable).
_URL_QUERY = re.compile(r"((?:https?://|/)[^\s?\"'<>]*)\?\S+")
#: Pydantic's rendering of an input value (a piece of a request body).
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|\]|$)", re.MULTILINE)
#: PostgreSQL's "Key (column)=(value)" in constraint errors.
_KEY_VALUE = re.compile(r"(Key \([^)]*\)=)\(.*?\)(?=[ .,]|$)", re.MULTILINE)
REDACTED = "<redacted>"


def redact(text: str) -> str:
    """Text without query strings, quoted input values or key values (see the module)."""
    if "?" in text:
        text = _URL_QUERY.sub(rf"\1?{REDACTED}", text)
    if "input_value=" in text:
        text = _INPUT_VALUE.sub(f"input_value={REDACTED}", text)
    if "Key (" in text:
        text = _KEY_VALUE.sub(rf"\1({REDACTED})", text)
    return text


def _redacted(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on a record when it is emitted (formatting may come later)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add request_id; never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render the record, its extras and the current request id."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps({k: _redacted(v) for k, v in entry.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One human-readable line per record, for a person at a terminal (`make run`).

    `12:03:04 GET /v1/measures 200 3.1 ms`, `12:03:05 WARNING message key=value`; a traceback
    follows on indented lines. The process name is left to whoever shows several side by side.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render the record on one line (plus an indented traceback, if any)."""
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = "" if record.levelno == logging.INFO else f"{record.levelname} "
        if record.name == access_log.name:
            fields = vars(record)
            message = (
                f"{fields.get('method')} {fields.get('path')} {fields.get('status')} "
                f"{fields.get('duration_ms')} ms"
            )
        else:
            message = record.getMessage()
            extras = [
                f"{key}={value}"
                for key, value in vars(record).items()
                if key not in _STANDARD_ATTRS
                and key != "request_id"
                and not key.startswith("_")
                and value is not None
            ]
            if extras:
                message += "  " + " ".join(extras)
        line = f"{clock} {level}{message}"
        if record.exc_info:
            line += "\n" + "\n".join(
                "    " + row for row in self.formatException(record.exc_info).splitlines()
            )
        return redact(line)


#: Paths of health probes: their successful answers are logged at DEBUG, not INFO, so that
#: orchestrators and `make run` polling them do not drown the requests people make.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record, not the stream it was at
    configuration (a test runner swaps and closes its capture streams; a background task of an
    app logging after that printed "--- Logging error ---" instead of its line)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(service: str, level: str = "INFO", log_format: str = "json") -> None:
    """Send every log record to stderr, as JSON or as text lines; quiet uvicorn's access log."""
    handler = StderrHandler()
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter(service))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request it sends at INFO: a second JSON line for each proxied request,
    # which the access line already tells (with the same request id). Its warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Assigns the request id, echoes it, logs one line per request, turns crashes into 500s.

    Pure ASGI so streamed bodies pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                await _send_500(send_with_id, public_path(scope=scope))
        finally:
            quiet = status < 400 and scope.get("path") in PROBE_PATHS
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            _request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _send_500(send: Send, path: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "An unexpected error occurred; it has been logged with the request id.",
            "instance": path,
        }
    ).encode()
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
