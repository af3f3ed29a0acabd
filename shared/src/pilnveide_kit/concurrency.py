"""Optimistic concurrency: If-Match required on every change, checked against the current ETag.

Each service makes its own ETags (a catalog row version, an API client's version); the check
and its two answers are the same everywhere: 428 without If-Match, 412 when it names another
version (`*` matches any)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from pilnveide_kit.errors import PreconditionFailed, PreconditionRequired


class StaleWrite(PreconditionFailed):
    """The If-Match ETag is not the resource's current one: someone changed it meanwhile."""

    slug = "stale-write"


class IfMatchMissing(PreconditionRequired):
    """A change without If-Match: read the resource first and send its ETag."""

    slug = "if-match-required"


IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you read; a stale one answers 412, none 428",
    ),
]


def require_if_match(if_match: str | None, current: str, what: str = "resource") -> None:
    """428 without If-Match, 412 when it names neither `current` nor `*` (weak tags compare
    by their value); both answers carry `current_etag`."""
    if if_match is None or not if_match.strip():
        raise IfMatchMissing(
            f"Send If-Match with the ETag of the {what} you read; changes without it are refused",
            current_etag=current,
        )
    candidates = [c.strip().removeprefix("W/") for c in if_match.split(",")]
    if "*" not in candidates and current not in candidates:
        raise StaleWrite(
            f"The {what} changed since you read it; read it again and retry",
            current_etag=current,
        )
