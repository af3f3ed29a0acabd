"""Stable cursor pagination: opaque cursors over a unique, ordered key; a capped page size."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from pilnveide_kit.boundary import MAX_BIGINT, MIN_BIGINT, text_problem
from pilnveide_kit.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Longest text a cursor key may hold (every key we put in one is a short code or id).
MAX_CURSOR_TEXT = 512
#: Longest cursor accepted.
MAX_CURSOR_LENGTH = 4096
INVALID_CURSOR = "The cursor is not valid; use next_cursor from a previous page"


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (null on the last)."""

    data: list[T]
    next_cursor: str | None = None


def encode_cursor(key: dict[str, Any]) -> str:
    """An opaque cursor for the last row's ordering key."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The ordering key inside a cursor; a 400 problem when it is not one of ours.

    A key's values are short texts (no NUL, no control character) or 64-bit integers: a tampered
    cursor (a float, null, an SQL fragment in an integer's place) never reaches a query.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadRequest(INVALID_CURSOR)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, RecursionError) as exc:
        raise BadRequest(INVALID_CURSOR) from exc
    if not isinstance(value, dict) or not all(_key_value_ok(v) for v in value.values()):
        raise BadRequest(INVALID_CURSOR)
    return value


def _key_value_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return MIN_BIGINT <= value <= MAX_BIGINT
    if isinstance(value, str):
        return len(value) <= MAX_CURSOR_TEXT and text_problem(value, controls=True) is None
    return False


class PageParams(BaseModel):
    """Validated page parameters."""

    limit: int
    after: dict[str, Any] | None

    def after_int(self, name: str) -> int | None:
        """The cursor's integer key `name` (None without a cursor); a 400 if it is not one."""
        if self.after is None:
            return None
        value = self.after.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(INVALID_CURSOR)
        return value

    def after_str(self, name: str) -> str | None:
        """The cursor's text key `name` (None without a cursor); a 400 if it is not one."""
        if self.after is None:
            return None
        value = self.after.get(name)
        if not isinstance(value, str):
            raise BadRequest(INVALID_CURSOR)
        return value


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageParams:
    """Dependency: the page size (capped, over the cap is a 422) and the decoded cursor."""
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


def make_page(items: list[T], limit: int, key: Any) -> Page[T]:
    """Build a page from up to limit+1 fetched items; key(item) gives the cursor key."""
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(key(items[-1])) if has_more and items else None
    return Page[T](data=items, next_cursor=next_cursor)
