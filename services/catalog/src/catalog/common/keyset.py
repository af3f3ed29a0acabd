"""Keyset pagination over composite keys (e.g. plan code, then a natural sort key)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, or_

from pilnveide_kit.errors import BadRequest


class CursorNotValid(BadRequest):
    """The cursor was not made by this list."""

    slug = "cursor-not-valid"


def after(columns: list[Any], names: list[str], cursor: dict[str, Any] | None) -> Any:
    """The WHERE clause for rows strictly after the cursor's key (None: no restriction)."""
    if cursor is None:
        return None
    try:
        values = [cursor[name] for name in names]
    except KeyError as exc:
        raise CursorNotValid("The cursor is not valid for this list") from exc
    for column, value in zip(columns, values, strict=True):
        # The kit lets only texts and 64-bit integers through; each must be its column's kind.
        if type(value) is not (int if isinstance(column.type, Integer) else str):
            raise CursorNotValid("The cursor is not valid for this list")
    clauses: list[ColumnElement[bool]] = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal, column > values[i]))
    return or_(*clauses)
