"""OpenAPI conventions every service gets from the app factory, so generated clients are clean.

- Operation ids are the route functions' names (`list_measures`, `get_indicator_result`): short,
  stable, snake_case; the gateway prefixes each with its service (`catalog_list_measures`).
- Every error response is `application/problem+json` with the one `Problem` schema (422:
  `ValidationProblem`), and each operation lists the problems it can answer: 401/403 when it
  needs a token, 404 when its path names a resource, 422 when it takes input, 412/428 when it
  needs If-Match, 503 (a database blip, retryable) everywhere; a route adds its own with
  `responses=problems(409, ...)`.
- Header rules the server enforces beyond the schema are declared: If-Match is required where
  the route checks it (428 without), Idempotency-Key's format.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from pilnveide_kit.csv_export import CSV_EXPORT_FLAG, CSV_RESPONSES
from pilnveide_kit.errors import PROBLEM_MEDIA_TYPE, InvalidParam, Problem, ValidationProblem

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_PROBLEM_REF = "#/components/schemas/ValidationProblem"
#: FastAPI's own validation error schemas: replaced by ValidationProblem (what is sent).
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_PROBLEMS = ("Problem", "ValidationProblem")
#: The Idempotency-Key the services accept: 1 to 200 printable characters.
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7E]{1,200}$"

_DESCRIPTIONS = {
    401: "No valid token (problem details)",
    403: "The token lacks a scope or the institution (problem details)",
    404: "No such resource, or not one of the client's institutions (problem details)",
    412: "If-Match names another version: read again and retry (problem details)",
    422: "The request is not valid: the failing fields are listed (problem details)",
    428: "If-Match is missing: read the resource and send its ETag (problem details)",
    503: "A database blip or an unavailable dependency: retry (problem details)",
}


def operation_id(route: APIRoute) -> str:
    """A route's operation id: its function's name (FastAPI's default appends path and method),
    in snake_case (a name built from a path, `write_course-tags_bulk`, gets `_`)."""
    return _NOT_ID.sub("_", route.name.lower()).strip("_")


def problem(status: int, description: str | None = None) -> dict[str, Any]:
    """One documented problem response."""
    schema = VALIDATION_PROBLEM_REF if status == 422 else PROBLEM_REF
    return {
        "description": description or _DESCRIPTIONS.get(status) or _phrase(status),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": schema}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the problems a route answers beyond the common ones."""
    return {status: problem(status) for status in statuses}


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase} (problem details)"
    except ValueError:
        return "Problem details"


def _is_error(code: str) -> bool:
    return code[:1] in ("4", "5") or code == "default"


def _param_names(operation: dict[str, Any]) -> set[str]:
    return {str(p.get("name", "")).lower() for p in operation.get("parameters", [])}


def _common_statuses(path: str, operation: dict[str, Any]) -> Iterable[int]:
    if operation.get("security"):
        yield from (401, 403)
    if "{" in path:
        yield 404
    if operation.get("parameters") or operation.get("requestBody"):
        yield 422
    if "if-match" in _param_names(operation):
        yield from (412, 428)
    yield 503


def _declare_headers(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "header":
            continue
        name = str(parameter.get("name", "")).lower()
        if name == "if-match" and not operation.get("x-if-match-optional"):
            parameter["required"] = True  # the route answers 428 without it
            parameter.setdefault("schema", {"type": "string"})
        elif name == "idempotency-key":
            parameter["schema"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": IDEMPOTENCY_KEY_PATTERN,
            }


def _csv_only(operation: dict[str, Any]) -> None:
    """A `.csv` twin: no `format` parameter (it is always CSV), 200 is text/csv only."""
    operation["parameters"] = [
        p for p in operation.get("parameters", []) if p.get("name") != "format"
    ]
    if not operation["parameters"]:
        del operation["parameters"]
    operation["responses"]["200"] = copy.deepcopy(CSV_RESPONSES[200])


def _problem_content(code: str, response: dict[str, Any]) -> None:
    """Document an error as problem+json; an error of another declared shape (the OAuth errors
    of /auth/token, RFC 6749 JSON) stays as declared."""
    content = response.get("content")
    if not content:
        response["content"] = problem(422 if code == "422" else 400)["content"]
        return
    declared = content.get("application/json", {}).get("schema")
    ref = declared.get("$ref", "") if isinstance(declared, dict) else ""
    name = ref.rsplit("/", 1)[-1]
    if declared is not None and name not in (*_FASTAPI_VALIDATION, *_PROBLEMS):
        return
    content.pop("application/json", None)
    schema = content.pop(PROBLEM_MEDIA_TYPE, {}).get("schema")
    if schema is None or name in _FASTAPI_VALIDATION:
        schema = {"$ref": VALIDATION_PROBLEM_REF if code == "422" else PROBLEM_REF}
    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}, **content}


def _used_refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                _used_refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _used_refs(item, found)
    return found


def problem_schemas() -> dict[str, Any]:
    """The shared problem schemas as components (Problem, ValidationProblem, InvalidParam)."""
    defs: dict[str, Any] = {}
    for model in (Problem, ValidationProblem, InvalidParam):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
    return defs


def apply_conventions(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the problem, header and naming conventions applied (a new copy)."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(problem_schemas())
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            _declare_headers(operation)
            operation.pop("x-if-match-optional", None)
            if operation.pop(CSV_EXPORT_FLAG, False):
                _csv_only(operation)
            responses = operation.setdefault("responses", {})
            for status in _common_statuses(path, operation):
                responses.setdefault(str(status), problem(status))
            for code, response in responses.items():
                if _is_error(str(code)) and isinstance(response, dict):
                    _problem_content(str(code), response)
            # Sorted like FastAPI's: numbers, then ranges (generators keep the order).
            operation["responses"] = dict(sorted(responses.items(), key=_response_order))
    used = _used_refs({k: v for k, v in document.items() if k != "components"}, set())
    for name in _FASTAPI_VALIDATION:
        if name in schemas and name not in _used_refs(
            {k: v for k, v in schemas.items() if k not in _FASTAPI_VALIDATION}, used
        ):
            del schemas[name]
    return document


def _response_order(entry: tuple[str, Any]) -> tuple[int, str]:
    code = str(entry[0])
    return (0, code) if code.isdigit() else (1, code)


def install_openapi(app: FastAPI) -> None:
    """Serve the app's document with the conventions applied (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = apply_conventions(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_ID = re.compile(r"[^a-z0-9_]+")


def check_operation_ids(document: dict[str, Any]) -> list[str]:
    """Operation ids that are not clean snake_case or not unique (empty: all good)."""
    seen: set[str] = set()
    bad = []
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            op_id = str(operation.get("operationId", ""))
            if not _ID.match(op_id) or op_id in seen:
                bad.append(op_id)
            seen.add(op_id)
    return bad
