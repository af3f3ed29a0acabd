"""One pagination shape for every list: `{"data": [...], "count": <total>, "next_cursor": ...}`.

Cursors are opaque (a unique, ordered key of the page's last item); `count` is how many items
the whole list has with the request's filters (every page gives the same number while nothing
changes); `next_cursor` is null on the last page. Page sizes are capped at MAX_LIMIT everywhere
(over the cap is a 422). The xAPI LRS keeps the specification's `more` instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, select

from pilnveide_kit.boundary import MAX_BIGINT, MIN_BIGINT, text_problem
from pilnveide_kit.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
#: The one cap on a page's size, for every list of every service.
MAX_LIMIT = 1000
#: Longest text a cursor key may hold (every key we put in one is a short code or id).
MAX_CURSOR_TEXT = 512
#: Longest cursor accepted.
MAX_CURSOR_LENGTH = 4096
INVALID_CURSOR = "The cursor is not valid; use next_cursor from a previous page"


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, how many the whole list has, the next page's cursor."""

    data: list[T]
    count: int = Field(description="How many items the whole list has (all pages), filters applied")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )


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


def make_page(items: Sequence[T], limit: int, key: Any, *, count: int) -> Page[T]:
    """Build a page from up to limit+1 fetched items; key(item) gives the cursor key; count is
    the whole list's size."""
    has_more = len(items) > limit
    data = list(items[:limit])
    next_cursor = encode_cursor(key(data[-1])) if has_more and data else None
    return Page[T](data=data, count=count, next_cursor=next_cursor)


def slice_page(items: Sequence[T], page: PageParams) -> Page[T]:
    """A page of a list held in memory (computed results): the cursor is the position."""
    start = max(page.after_int("i") or 0, 0)
    chunk = list(items[start : start + page.limit + 1])
    has_more = len(chunk) > page.limit
    return Page[T](
        data=chunk[: page.limit],
        count=len(items),
        next_cursor=encode_cursor({"i": start + page.limit}) if has_more else None,
    )


def count_of(session: Session, query: Any) -> int:
    """How many rows a select (filters applied, before its cursor and limit) selects."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    return int(total)


def feed_position(after: int, cursor: str | None) -> tuple[int, int]:
    """(start, position) of a page of a sequence-numbered feed: without a cursor both are
    `after`; a cursor carries where the paging started (for `count`) and the last seq sent."""
    if not cursor:
        return after, after
    key = decode_cursor(cursor)
    start, position = key.get("from"), key.get("seq")
    for value in (start, position):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRequest(INVALID_CURSOR)
    return int(start), int(position)  # type: ignore[arg-type]


def feed_cursor(position: int, start: int) -> str:
    """The cursor of a feed's next page (see feed_position)."""
    return encode_cursor({"seq": position, "from": start})
