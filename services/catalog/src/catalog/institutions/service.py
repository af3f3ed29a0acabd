"""Institutions: list, read, create, change, archive, and bulk upsert by code."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.changes.service import record_change
from catalog.common.concurrency import check_if_match
from catalog.common.i18n import LocalizedText, text_of
from catalog.common.search import matches, search_text
from catalog.common.time import utcnow
from catalog.institutions.models import (
    BulkResult,
    Institution,
    InstitutionCreate,
    InstitutionPublic,
    InstitutionUpdate,
)
from pilnveide_kit.errors import Conflict, NotFound, UnprocessableContent
from pilnveide_kit.pagination import PageParams, count_of

ENTITY = "institution"


class InstitutionNotFound(NotFound):
    """No institution has this code."""

    slug = "institution-not-found"


class InstitutionExists(Conflict):
    """An institution with this code exists already."""

    slug = "institution-exists"


class InstitutionArchived(Conflict):
    """The institution is archived and cannot be changed."""

    slug = "institution-archived"


class InvalidParent(UnprocessableContent):
    """The parent is unknown or would make a cycle."""

    slug = "invalid-parent"


def to_public(row: Institution) -> InstitutionPublic:
    """The served shape of an institution."""
    return InstitutionPublic(
        code=row.code,
        name=text_of(row.name_lv, row.name_en) or LocalizedText(lv=row.code),
        kind=row.kind,
        sector=row.sector,
        parent=row.parent_code,
        version=row.version,
        archived=row.archived_at is not None,
        archived_at=row.archived_at,
        updated_at=row.updated_at,
    )


def snapshot(row: Institution) -> dict[str, Any]:
    """The state kept in the change log."""
    return to_public(row).model_dump(mode="json")


def list_institutions(
    session: Session,
    *,
    kind: str | None,
    sector: str | None,
    parent: str | None,
    q: str | None,
    include_archived: bool,
    page: PageParams,
) -> tuple[list[Institution], int]:
    """Institutions ordered by code, filtered."""
    query = select(Institution)
    if kind:
        query = query.where(Institution.kind == kind)
    if sector:
        query = query.where(Institution.sector == sector)
    if parent:
        query = query.where(Institution.parent_code == parent)
    if q:
        query = query.where(matches(Institution.search_text, q))
    if not include_archived:
        query = query.where(col(Institution.archived_at).is_(None))
    total = count_of(session, query)
    if (after := page.after_str("code")) is not None:
        query = query.where(col(Institution.code) > after)
    query = query.order_by(col(Institution.code)).limit(page.limit + 1)
    return list(session.exec(query).all()), total


def get_row(session: Session, code: str, *, for_update: bool = False) -> Institution:
    """The institution with this code, or a 404 problem."""
    query = select(Institution).where(Institution.code == code)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise InstitutionNotFound(f"No institution has the code {code!r}", code=code)
    return row


def _check_parent(session: Session, code: str, parent: str | None, pending: set[str]) -> None:
    if parent is None:
        return
    if parent == code:
        raise InvalidParent("An institution cannot be its own parent", field="parent")
    if parent in pending:
        return
    seen = {code}
    current: str | None = parent
    while current is not None:
        if current in seen:
            raise InvalidParent(f"The parent {parent!r} would make a cycle", field="parent")
        seen.add(current)
        row = session.exec(select(Institution).where(Institution.code == current)).first()
        if row is None:
            raise InvalidParent(
                f"The parent {current!r} is not a known institution", field="parent"
            )
        current = row.parent_code


def _apply(
    row: Institution, name: LocalizedText, kind: str, sector: str, parent: str | None
) -> bool:
    """Set the fields; True when something changed."""
    values = {
        "name_lv": name.lv or "",
        "name_en": name.en,
        "kind": str(kind),
        "sector": str(sector),
        "parent_code": parent,
    }
    changed = any(getattr(row, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(row, key, value)
    row.search_text = search_text(row.code, row.name_lv, row.name_en)
    return changed


def create(session: Session, body: InstitutionCreate, client_id: str) -> Institution:
    """A new institution (version 1)."""
    if session.exec(select(Institution).where(Institution.code == body.code)).first():
        raise InstitutionExists(f"The institution {body.code!r} exists already", code=body.code)
    _check_parent(session, body.code, body.parent, set())
    row = Institution(code=body.code, name_lv="", kind="", sector="")
    _apply(row, body.name, body.kind, body.sector, body.parent)
    session.add(row)
    session.flush()
    record_change(
        session,
        entity=ENTITY,
        code=row.code,
        version=row.version,
        operation="create",
        client_id=client_id,
        snapshot=snapshot(row),
    )
    return row


def update(
    session: Session, code: str, body: InstitutionUpdate, if_match: str | None, client_id: str
) -> Institution:
    """Change the given fields of an institution, guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is not None:
        raise InstitutionArchived(f"The institution {code!r} is archived", code=code)
    fields = body.model_fields_set
    parent = body.parent if "parent" in fields else row.parent_code
    _check_parent(session, code, parent, set())
    changed = _apply(
        row,
        body.name if body.name is not None else LocalizedText(lv=row.name_lv, en=row.name_en),
        body.kind if body.kind is not None else row.kind,
        body.sector if body.sector is not None else row.sector,
        parent,
    )
    if changed:
        _bump(session, row, "update", client_id)
    return row


def archive(session: Session, code: str, if_match: str | None, client_id: str) -> Institution:
    """Archive an institution (kept, hidden from lists by default), guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is None:
        row.archived_at = utcnow()
        _bump(session, row, "archive", client_id)
    return row


def _bump(session: Session, row: Institution, operation: str, client_id: str) -> None:
    row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    record_change(
        session,
        entity=ENTITY,
        code=row.code,
        version=row.version,
        operation=operation,
        client_id=client_id,
        snapshot=snapshot(row),
    )


def upsert_many(session: Session, items: list[InstitutionCreate], client_id: str) -> BulkResult:
    """Create or update institutions by code; sending the same list again changes nothing."""
    codes = [i.code for i in items]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise UnprocessableContent(
            f"Codes appear more than once: {', '.join(duplicates)}", field="institutions"
        )
    pending = set(codes)
    existing = {
        r.code: r
        for r in session.exec(select(Institution).where(col(Institution.code).in_(codes))).all()
    }
    by_code = {i.code: i for i in items}
    for index, item in enumerate(items):
        try:
            _check_parent(session, item.code, item.parent, pending)
        except InvalidParent as exc:
            raise InvalidParent(exc.detail, field=f"institutions.{index}.parent") from exc
        # cycles inside the batch
        seen = {item.code}
        parent = item.parent
        while parent in by_code:
            if parent in seen:
                raise InvalidParent(
                    f"The parent {item.parent!r} would make a cycle",
                    field=f"institutions.{index}.parent",
                )
            seen.add(parent)
            parent = by_code[parent].parent
    created = updated = unchanged = 0
    for item in items:
        row = existing.get(item.code)
        if row is None:
            row = Institution(code=item.code, name_lv="", kind="", sector="")
            _apply(row, item.name, item.kind, item.sector, item.parent)
            session.add(row)
            session.flush()
            record_change(
                session,
                entity=ENTITY,
                code=row.code,
                version=row.version,
                operation="create",
                client_id=client_id,
                snapshot=snapshot(row),
            )
            created += 1
        elif _apply(row, item.name, item.kind, item.sector, item.parent):
            _bump(session, row, "update", client_id)
            updated += 1
        else:
            unchanged += 1
    return BulkResult(created=created, updated=updated, unchanged=unchanged)
