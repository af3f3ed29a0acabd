"""Recording and reading changes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from catalog.changes.models import ChangeRecord
from pilnveide_kit.pagination import PageParams, count_of


def record_change(
    session: Session,
    *,
    entity: str,
    code: str,
    version: int,
    operation: str,
    client_id: str,
    snapshot: dict[str, Any],
) -> ChangeRecord:
    """Append a change entry (flushed with the write it describes, in the same transaction)."""
    change = ChangeRecord(
        entity=entity,
        entity_code=code,
        version=version,
        operation=operation,
        client_id=client_id,
        snapshot=snapshot,
    )
    session.add(change)
    session.flush()
    return change


def list_changes(
    session: Session, *, entity: str | None, code: str | None, page: PageParams
) -> tuple[list[ChangeRecord], int]:
    """Changes in the order they happened, optionally of one entity kind or resource."""
    query = select(ChangeRecord)
    if entity:
        query = query.where(ChangeRecord.entity == entity)
    if code:
        query = query.where(ChangeRecord.entity_code == code)
    total = count_of(session, query)
    if (after := page.after_int("id")) is not None:
        query = query.where(col(ChangeRecord.id) > after)
    query = query.order_by(col(ChangeRecord.id)).limit(page.limit + 1)
    return list(session.exec(query).all()), total


def catalog_version(session: Session) -> int:
    """The id of the latest change: it moves on every write of the catalog (0 when empty)."""
    latest = session.exec(select(func.max(ChangeRecord.id))).one()
    return int(latest or 0)
