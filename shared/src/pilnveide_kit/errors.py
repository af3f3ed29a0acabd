"""RFC 9457 problem details: typed domain errors, rendered once for every 4xx/5xx."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://pilnveide.lv/problems/"

log = logging.getLogger("pilnveide.errors")


class Problem(BaseModel):
    """An RFC 9457 problem details body."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class InvalidParam(BaseModel):
    """One failing field of a validation problem."""

    name: str
    reason: str
    location: str | None = None


class ValidationProblem(Problem):
    """A 422 problem with the failing fields."""

    errors: list[InvalidParam] = []


#: Ready-made `responses=` entries so OpenAPI documents show the problem bodies.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": Problem, "description": "Client error (problem details)"},
    "5XX": {"model": Problem, "description": "Server error (problem details)"},
}


class ProblemError(Exception):
    """Base for typed errors; subclasses set status, slug and title."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem body for this error."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class PreconditionRequired(ProblemError):
    status, slug, title = 428, "precondition-required", "Precondition Required"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload Too Large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class UnprocessableContent(ProblemError):
    status, slug, title = 422, "validation-error", "Unprocessable Content"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too Many Requests"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for a status with no typed error behind it."""
    phrase = _phrase(status)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_name(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str | None]:
    parts = list(loc)
    location = str(parts[0]) if parts and parts[0] in ("body", "query", "path", "header") else None
    if location:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or (location or ""), location


#: Pydantic error types of date and date-time fields, and the format to tell the caller.
_EXPECTED_FORMATS = {
    **dict.fromkeys(
        ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"),
        "expected a date as YYYY-MM-DD, e.g. 2025-12-31",
    ),
    **dict.fromkeys(
        ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"),
        "expected a date-time as YYYY-MM-DDTHH:MM:SS with a time zone, e.g. "
        "2025-12-31T14:30:00Z, or a date as YYYY-MM-DD",
    ),
}


def error_reason(err: Mapping[str, Any]) -> str:
    """The reason of one pydantic error, naming the expected format where there is one."""
    reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    expected = _EXPECTED_FORMATS.get(str(err.get("type")))
    return f"{reason}; {expected}" if expected else reason


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as [{name, reason, location}] (no input values: they may be personal)."""
    out = []
    for err in errors:
        name, location = _field_name(err.get("loc", ()))
        out.append({"name": name, "reason": error_reason(err), "location": location})
    return out


def json_error_position(document: str | bytes, offset: int) -> tuple[int, int]:
    """Line and column (both from 1) of a character offset in a JSON document."""
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _malformed_json(exc: RequestValidationError) -> str | None:
    """'<what> at line L, column C' when the request failed because its body is not JSON."""
    for err in exc.errors():
        if err.get("type") != "json_invalid":
            continue
        loc = list(err.get("loc", ()))
        what = str((err.get("ctx") or {}).get("error") or "JSON decode error")
        if len(loc) > 1 and isinstance(loc[1], int) and isinstance(exc.body, str | bytes):
            line, column = json_error_position(exc.body, loc[1])
            return f"{what} at line {line}, column {column}"
        return what
    return None


_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


def public_path(request: Request | None = None, *, scope: Mapping[str, Any] | None = None) -> str:
    """The path as the caller sent it: behind the gateway, with the prefix the gateway removed
    (its X-Forwarded-Prefix) in front of the service's own path."""
    scope = scope if scope is not None else (request.scope if request is not None else {})
    path = str(scope.get("path", ""))
    for key, value in scope.get("headers", []):
        if key.lower() == b"x-forwarded-prefix":
            prefix = value.decode("latin-1").rstrip("/")
            if _PREFIX.match(prefix) and not path.startswith(prefix + "/"):
                return prefix + path
    return path


def allowed_methods(request: Request) -> str:
    """Every method some route of the app serves at the request's path, for a 405's Allow.

    Starlette names only the first route whose path matches; a path served by several routes
    (GET and PATCH of one resource) needs all of them."""
    path = str(request.scope.get("path", ""))
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.methods and context.path and compile_path(context.path)[0].match(path):
            methods |= set(context.methods)
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as application/problem+json; no stack trace reaches a client."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(
            exc.to_problem(instance=public_path(request)),
            status_code=exc.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=exc.headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        path = public_path(request)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {path}"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return problem_response(exc.status_code, detail, headers=headers, instance=path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = _malformed_json(exc)
        if malformed is not None:
            return problem_response(
                422,
                f"The request body is not valid JSON: {malformed}",
                title="Unprocessable Content",
                slug="validation-error",
                errors=[{"name": "body", "reason": malformed, "location": "body"}],
                instance=public_path(request),
            )
        errors = validation_errors(exc.errors())
        names = ", ".join(e["name"] for e in errors[:5])
        return problem_response(
            422,
            f"The request is not valid: {names}" if names else "The request is not valid",
            title="Unprocessable Content",
            slug="validation-error",
            errors=errors,
            instance=public_path(request),
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            500,
            "An unexpected error occurred; it has been logged with the request id.",
            instance=public_path(request),
        )
