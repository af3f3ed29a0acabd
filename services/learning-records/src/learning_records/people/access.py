"""Institution scoping in SQL: which people and records a restricted client may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlmodel import col

from learning_records.employment.models import Employment
from pilnveide_kit.auth import Principal


def person_visible(principal: Principal, person_id: Any) -> ColumnElement[bool]:
    """True for a person ever employed in one of the client's institutions (all: unrestricted)."""
    if principal.institutions is None:
        return true()
    if not principal.institutions:
        return false()
    return exists(
        select(col(Employment.id)).where(
            col(Employment.person_id) == person_id,
            col(Employment.institution).in_(sorted(principal.institutions)),
        )
    )


def record_visible(principal: Principal, person_id: Any, institution: Any) -> ColumnElement[bool]:
    """True for a record made in one of the client's institutions, or about one of its people."""
    if principal.institutions is None:
        return true()
    return or_(
        institution.in_(sorted(principal.institutions)), person_visible(principal, person_id)
    )
