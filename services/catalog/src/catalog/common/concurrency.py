"""Optimistic concurrency in the catalog: ETags from row versions, checked by the kit's rule."""

from __future__ import annotations

from pilnveide_kit.concurrency import IfMatchHeader, IfMatchMissing, StaleWrite, require_if_match

__all__ = ["IfMatchHeader", "IfMatchMissing", "StaleWrite", "check_if_match", "etag"]


def etag(version: int) -> str:
    """The strong ETag of a resource version."""
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without If-Match, 412 when it does not name the current version."""
    require_if_match(if_match, etag(version))
