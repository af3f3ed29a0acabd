"""Competency frameworks: list, read, create (JSON or CASE), replace, archive; versioned."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.changes.service import record_change
from catalog.common.concurrency import check_if_match
from catalog.common.i18n import LocalizedText, text_of
from catalog.common.search import matches, search_text
from catalog.common.time import utcnow
from catalog.frameworks.models import (
    Framework,
    FrameworkCreate,
    FrameworkFields,
    FrameworkPublic,
    FrameworkSummary,
    RequirementsReplace,
    walk,
)
from catalog.reference.service import known_codes
from pilnveide_kit.errors import Conflict, NotFound, UnprocessableContent
from pilnveide_kit.pagination import PageParams, count_of

ENTITY = "framework"
GROUP_LISTS = ("position_groups", "management_levels", "roles", "participant_groups")


class FrameworkNotFound(NotFound):
    """No framework has this code."""

    slug = "framework-not-found"


class FrameworkExists(Conflict):
    """A framework with this code exists already."""

    slug = "framework-exists"


class FrameworkArchived(Conflict):
    """Archived frameworks cannot be changed."""

    slug = "archived"


def to_document(row: Framework) -> FrameworkCreate:
    """The framework's content as the validated model."""
    return FrameworkCreate.model_validate(
        {
            "code": row.code,
            "title": text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
            "description": row.description,
            "publisher": row.publisher,
            "version_label": row.version_label,
            "source_url": row.source_url,
            "levels": row.levels,
            "competencies": row.competencies,
            "requirements": row.requirements,
        }
    )


def to_public(row: Framework) -> FrameworkPublic:
    """The served shape of a framework."""
    return FrameworkPublic(
        code=row.code,
        title=text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
        description=LocalizedText.model_validate(row.description) if row.description else None,
        publisher=row.publisher,
        version_label=row.version_label,
        source_url=row.source_url,
        levels=row.levels,
        competencies=row.competencies,
        requirements=row.requirements,
        version=row.version,
        archived=row.archived_at is not None,
        archived_at=row.archived_at,
        updated_at=row.updated_at,
    )


def to_summary(row: Framework) -> FrameworkSummary:
    """A framework in a list."""
    document = to_document(row)
    return FrameworkSummary(
        code=row.code,
        title=document.title,
        publisher=row.publisher,
        version_label=row.version_label,
        levels=len(document.levels),
        competencies=len(walk(document.competencies)),
        version=row.version,
        archived=row.archived_at is not None,
    )


def list_rows(
    session: Session, *, q: str | None, include_archived: bool, page: PageParams
) -> tuple[list[Framework], int]:
    """Frameworks by code."""
    query = select(Framework)
    if q:
        query = query.where(matches(Framework.search_text, q))
    if not include_archived:
        query = query.where(col(Framework.archived_at).is_(None))
    total = count_of(session, query)
    if (after := page.after_str("code")) is not None:
        query = query.where(col(Framework.code) > after)
    rows = list(session.exec(query.order_by(col(Framework.code)).limit(page.limit + 1)).all())
    return rows, total


def get_row(session: Session, code: str, *, for_update: bool = False) -> Framework:
    """The framework with this code, or a 404 problem."""
    query = select(Framework).where(Framework.code == code)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise FrameworkNotFound(f"No framework has the code {code!r}", code=code)
    return row


def _check_groups(session: Session, body: FrameworkFields) -> None:
    groups: set[str] = set()
    for list_code in GROUP_LISTS:
        groups |= known_codes(session, list_code)
    for index, req in enumerate(body.requirements):
        if groups and req.position_group not in groups:
            raise UnprocessableContent(
                f"The request is not valid: requirements.{index}.position_group",
                errors=[
                    {
                        "name": f"requirements.{index}.position_group",
                        "reason": f"unknown position group {req.position_group!r}",
                        "location": "body",
                    }
                ],
            )


def _apply(row: Framework, body: FrameworkFields) -> bool:
    dumped = body.model_dump(mode="json")
    values: dict[str, Any] = {
        "title_lv": body.title.lv,
        "title_en": body.title.en,
        "description": dumped["description"],
        "publisher": body.publisher,
        "version_label": body.version_label,
        "source_url": body.source_url,
        "levels": dumped["levels"],
        "competencies": dumped["competencies"],
        "requirements": dumped["requirements"],
    }
    changed = any(getattr(row, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(row, key, value)
    row.search_text = search_text(
        row.code,
        row.title_lv,
        row.title_en,
        [t for c in walk(body.competencies) for t in (c.code, c.title.lv, c.title.en)],
    )
    return changed


def _record(session: Session, row: Framework, operation: str, client_id: str) -> None:
    record_change(
        session,
        entity=ENTITY,
        code=row.code,
        version=row.version,
        operation=operation,
        client_id=client_id,
        snapshot=to_public(row).model_dump(mode="json"),
    )


def create(session: Session, body: FrameworkCreate, client_id: str) -> Framework:
    """A new framework (version 1)."""
    if session.exec(select(Framework.id).where(Framework.code == body.code)).first():
        raise FrameworkExists(f"The framework {body.code!r} exists already", code=body.code)
    _check_groups(session, body)
    row = Framework(code=body.code)
    _apply(row, body)
    session.add(row)
    session.flush()
    _record(session, row, "create", client_id)
    return row


def replace(
    session: Session, code: str, body: FrameworkFields, if_match: str | None, client_id: str
) -> Framework:
    """Replace a framework's content, guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is not None:
        raise FrameworkArchived(f"The framework {code!r} is archived", code=code)
    _check_groups(session, body)
    if _apply(row, body):
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        _record(session, row, "update", client_id)
    return row


def replace_requirements(
    session: Session, code: str, body: RequirementsReplace, if_match: str | None, client_id: str
) -> Framework:
    """Replace only the required levels per position group, guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    document = to_document(row).model_dump(mode="json", exclude={"code"})
    document["requirements"] = body.model_dump(mode="json")["requirements"]
    try:
        fields = FrameworkFields.model_validate(document)
    except ValueError as exc:
        raise UnprocessableContent(
            f"The request is not valid: {exc}",
            errors=[{"name": "requirements", "reason": str(exc), "location": "body"}],
        ) from exc
    return replace(session, code, fields, if_match, client_id)


def archive(session: Session, code: str, if_match: str | None, client_id: str) -> Framework:
    """Archive instead of delete, guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is None:
        row.archived_at = utcnow()
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        _record(session, row, "archive", client_id)
    return row
