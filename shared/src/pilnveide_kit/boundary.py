"""The input boundary: text, JSON and numbers a service will not accept, refused before any code.

Every request passes one check before it reaches a route, so no service has to remember it:
- the path and the query may not carry NUL or other control characters (422 naming the field);
- a JSON (or NDJSON, or form) body is read up to a bound and parsed strictly: duplicate keys,
  NaN and Infinity, integers beyond 64 bits and nesting deeper than MAX_JSON_DEPTH are refused
  (400), text with NUL or a lone surrogate too (422 naming the field: PostgreSQL cannot store
  NUL in text, and a lone surrogate is not UTF-8, so neither could be read back).
The body the route reads is the one checked, replayed unchanged.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pilnveide_kit.asgi import passes_through
from pilnveide_kit.errors import BadRequest, PayloadTooLarge, UnprocessableContent, problem_response

#: Deepest nesting of arrays and objects a JSON body may have.
MAX_JSON_DEPTH = 64
#: Integers must fit a signed 64-bit column (PostgreSQL BIGINT).
MIN_BIGINT = -(2**63)
MAX_BIGINT = 2**63 - 1
#: Largest value of a 32-bit column (PostgreSQL INTEGER), e.g. a version number.
MAX_INT32 = 2**31 - 1
#: Default bound on a body read for checking (a service may raise it, e.g. for bulk writes).
DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024

JSON_MEDIA_TYPES = frozenset({"application/json"})
NDJSON_MEDIA_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# An escaped NUL or surrogate in JSON text: only then are the decoded strings walked.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class NotJson(BadRequest):
    """A body that is not JSON at all (the service's own parser says how it answers that)."""


class InvalidText(UnprocessableContent):
    """Text a service cannot store or give back: NUL or a lone surrogate."""


def text_problem(value: str, *, controls: bool = False) -> str | None:
    """Why a text is refused (NUL, a control character, a lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if controls and _CONTROL.search(value):
        return "contains a control character"
    if _SURROGATE.search(value):
        return "contains a lone surrogate (not UTF-8)"
    return None


def refuse_text(name: str, reason: str) -> InvalidText:
    """The 422 for one field's text."""
    return InvalidText(
        f"{name} {reason}",
        errors=[{"name": name, "reason": reason, "location": name.split(".", 1)[0]}],
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRequest(f"The JSON has the key {key!r} twice in one object")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise BadRequest(f"The JSON has {name}, which is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadRequest(f"The JSON number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    value = int(text)
    if not MIN_BIGINT <= value <= MAX_BIGINT:
        raise BadRequest(f"The JSON integer {text[:40]} does not fit 64 bits")
    return value


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests arrays and objects more than limit levels (level by level:
    cheap, no recursion)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    return False


def strict_json_loads(data: bytes | str, *, name: str = "body") -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity, 64-bit integers, bounded
    depth, no NUL or lone surrogate in any text; a 400 or 422 problem otherwise."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise refuse_text(name, "contains a lone surrogate (not UTF-8)") from exc
    else:
        raw = data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJson(f"The {name} is not UTF-8 text") from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except RecursionError as exc:  # the parser's own bound, far beyond ours
        raise BadRequest(f"The {name} is nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise NotJson(f"The {name} is not valid JSON") from exc
    except ValueError as exc:  # an integer with more digits than Python reads
        raise BadRequest(f"The {name} has a number out of range") from exc
    if too_deep(value):
        raise BadRequest(f"The {name} is nested deeper than {MAX_JSON_DEPTH} levels")
    if _SUSPECT_ESCAPE.search(raw) is not None:  # only then: find the field to name
        check_json_value(value, name=name)
    return value


def check_json_value(value: Any, *, name: str = "body", strings: bool = True) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH and (strings=True) text with NUL or a surrogate."""
    stack: list[tuple[Any, int, str]] = [(value, 0, name)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_JSON_DEPTH:
                raise BadRequest(f"The {name} is nested deeper than {MAX_JSON_DEPTH} levels")
            for key, child in item.items():
                if strings and (reason := text_problem(key)):
                    raise refuse_text(f"{path}.{key!r}", f"has a key that {reason}")
                if strings or isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, f"{path}.{key}"))
        elif isinstance(item, list):
            if depth >= MAX_JSON_DEPTH:
                raise BadRequest(f"The {name} is nested deeper than {MAX_JSON_DEPTH} levels")
            for index, child in enumerate(item):
                if strings or isinstance(child, (dict, list)):
                    stack.append((child, depth + 1, f"{path}.{index}"))
        elif strings and isinstance(item, str) and (reason := text_problem(item)):
            raise refuse_text(path, reason)


def check_ndjson(raw: bytes) -> None:
    """Each non-blank line of an NDJSON body under the same rules (lines that are not JSON at all
    are left to the service, which reports them per item)."""
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        with contextlib.suppress(NotJson):
            strict_json_loads(line, name=f"body.line{number}")


def _without_line_breaks(value: str) -> str:
    return value.replace("\n", "").replace("\r", "").replace("\t", "")


def check_query(query_string: bytes) -> None:
    """No NUL or control character (but line breaks and tabs, e.g. in a pretty-printed JSON
    parameter) in a query parameter."""
    if not query_string:
        return
    text = query_string.decode("latin-1")
    for key, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
        for part in (key, _without_line_breaks(value)):
            if reason := text_problem(part, controls=True):
                raise refuse_text(f"query.{key}", reason)


def check_path(path: str) -> None:
    """No NUL or control character in the (decoded) path."""
    if reason := text_problem(path, controls=True):
        raise refuse_text("path", reason)


def check_form(raw: bytes) -> None:
    """No NUL, control character (but line breaks and tabs) or lone surrogate in a form field."""
    for key, value in parse_qsl(
        raw.decode("latin-1"), keep_blank_values=True, errors="surrogateescape"
    ):
        for part in (key, _without_line_breaks(value)):
            if reason := text_problem(part, controls=True):
                raise refuse_text(f"form.{key}", reason)


def _media_type(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _is_json(media_type: str) -> bool:
    return media_type in JSON_MEDIA_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class InputBoundaryMiddleware:
    """Checks path, query and JSON/NDJSON/form bodies before the application sees them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
        skip_prefixes: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.skip_prefixes = tuple(skip_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, or refuse it with a problem before the application runs."""
        if passes_through(scope, self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        media_type = _media_type(scope)
        checked_body = (
            _is_json(media_type)
            or media_type in NDJSON_MEDIA_TYPES
            or media_type == FORM_MEDIA_TYPE
        )
        body = b""
        try:
            check_path(str(scope.get("path", "")))
            check_query(scope.get("query_string", b""))
            if checked_body:
                body = await self._read(receive)
                if body:
                    if _is_json(media_type):
                        with contextlib.suppress(NotJson):  # the route refuses it in its words
                            strict_json_loads(body)
                    elif media_type in NDJSON_MEDIA_TYPES:
                        check_ndjson(body)
                    else:
                        check_form(body)
        except (BadRequest, UnprocessableContent, PayloadTooLarge) as exc:
            response = problem_response(
                exc.status,
                exc.detail,
                title=exc.title,
                slug=exc.slug,
                instance=scope.get("path"),
                **exc.extra,
            )
            if isinstance(exc, PayloadTooLarge):
                response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        if not checked_body:
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_json_bytes:
                raise PayloadTooLarge(
                    f"The request body is larger than {self.max_json_bytes} bytes",
                    max_bytes=self.max_json_bytes,
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
