"""Search helpers: case- and diacritics-insensitive matching over a normalised text column."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement


def fold(text: str) -> str:
    """Lower-case text without diacritics, so "Ierēdņu" matches "ierednu"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_text(*parts: str | Iterable[str | None] | None) -> str:
    """The folded text a row is searched by (codes and texts in both languages)."""
    flat: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, str):
            flat.append(part)
        else:
            flat.extend(p for p in part if p)
    return fold(" \n ".join(flat))


def matches(column: Any, query: str) -> ColumnElement[bool]:
    """A LIKE condition: every word of the query appears in the folded column."""
    words = [w for w in re.split(r"\s+", fold(query)) if w]
    condition: ColumnElement[bool] | None = None
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clause = column.like(f"%{escaped}%", escape="\\")
        condition = clause if condition is None else condition & clause
    if condition is None:
        return column.is_not(None)
    return condition


def sort_key(code: str) -> str:
    """A key that orders codes naturally: "1.2" before "1.10", "M2.3" after "M2.1"."""
    return "".join(f"{int(p):05d}" if p.isdigit() else p for p in re.split(r"(\d+)", code))
