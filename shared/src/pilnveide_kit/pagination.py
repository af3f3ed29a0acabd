"""Stable cursor pagination: opaque cursors over a unique, ordered key; a capped page size."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from pilnveide_kit.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (null on the last)."""

    data: list[T]
    next_cursor: str | None = None


def encode_cursor(key: dict[str, Any]) -> str:
    """An opaque cursor for the last row's ordering key."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The ordering key inside a cursor; a 400 problem when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadRequest("The cursor is not valid; use next_cursor from a previous page") from exc
    if not isinstance(value, dict):
        raise BadRequest("The cursor is not valid; use next_cursor from a previous page")
    return value


class PageParams(BaseModel):
    """Validated page parameters."""

    limit: int
    after: dict[str, Any] | None


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
