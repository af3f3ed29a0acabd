"""Optimistic concurrency: ETags from row versions, If-Match required on every change."""

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


def etag(version: int) -> str:
    """The strong ETag of a resource version."""
    return f'"v{version}"'


IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you read; a stale one answers 412, none 428",
    ),
]


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without If-Match, 412 when it does not name the current version."""
    current = etag(version)
    if if_match is None or not if_match.strip():
        raise IfMatchMissing(
            "Send If-Match with the ETag you read; changes without it are refused",
            current_etag=current,
        )
    candidates = [c.strip().removeprefix("W/") for c in if_match.split(",")]
    if "*" in candidates or current in candidates:
        return
    raise StaleWrite(
        "The resource changed since you read it; read it again and retry",
        current_etag=current,
    )
