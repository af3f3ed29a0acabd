"""Mandatory learning rules: list, read, create, replace, archive; versioned like the catalog."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from catalog.changes.service import record_change
from catalog.common.concurrency import check_if_match
from catalog.common.i18n import LocalizedText, text_of
from catalog.common.time import utcnow
from catalog.mandatory.models import (
    MandatoryLearning,
    MandatoryLearningCreate,
    MandatoryLearningFields,
    MandatoryLearningPublic,
)
from catalog.programmes.models import Course
from catalog.reference.service import known_codes
from pilnveide_kit.errors import Conflict, NotFound, UnprocessableContent
from pilnveide_kit.pagination import PageParams, count_of

ENTITY = "mandatory_learning"
#: Audience parts checked against a reference list of the catalog.
AUDIENCE_LISTS = {
    "position_groups": "position_groups",
    "roles": "roles",
    "management_levels": "management_levels",
}


class MandatoryLearningNotFound(NotFound):
    """No mandatory learning rule has this code."""

    slug = "mandatory-learning-not-found"


class MandatoryLearningExists(Conflict):
    """A rule with this code exists already."""

    slug = "code-exists"


class MandatoryLearningArchived(Conflict):
    """Archived rules cannot be changed."""

    slug = "archived"


def to_public(row: MandatoryLearning) -> MandatoryLearningPublic:
    """The served shape of a rule."""
    return MandatoryLearningPublic(
        code=row.code,
        title=text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
        courses=list(row.courses),
        audience=dict(row.audience),
        within_days_of_start=row.within_days_of_start,
        effective_from=row.effective_from,
        requires_passed_test=row.requires_passed_test,
        source=row.source,
        version=row.version,
        archived=row.archived_at is not None,
        archived_at=row.archived_at,
        updated_at=row.updated_at,
    )


def list_rows(
    session: Session, *, include_archived: bool, page: PageParams
) -> tuple[list[MandatoryLearning], int]:
    """Rules by code, one page, and how many the whole list has."""
    query = select(MandatoryLearning)
    if not include_archived:
        query = query.where(col(MandatoryLearning.archived_at).is_(None))
    total = count_of(session, query)
    if (after := page.after_str("code")) is not None:
        query = query.where(col(MandatoryLearning.code) > after)
    rows = session.exec(query.order_by(col(MandatoryLearning.code)).limit(page.limit + 1)).all()
    return list(rows), total


def get_row(session: Session, code: str, *, for_update: bool = False) -> MandatoryLearning:
    """The rule with this code, or a 404 problem."""
    query = select(MandatoryLearning).where(MandatoryLearning.code == code)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise MandatoryLearningNotFound(f"No mandatory learning has the code {code!r}", code=code)
    return row


def _invalid(name: str, reason: str) -> UnprocessableContent:
    return UnprocessableContent(
        f"The request is not valid: {name}",
        errors=[{"name": name, "reason": reason, "location": "body"}],
    )


def _check_codes(session: Session, body: MandatoryLearningFields) -> None:
    """Courses must exist in the catalog; audience codes must be in their reference lists."""
    known_courses = set(
        session.exec(select(Course.code).where(col(Course.code).in_(body.courses))).all()
    )
    for index, course in enumerate(body.courses):
        if course not in known_courses:
            raise _invalid(f"courses.{index}", f"unknown course {course!r}")
    for part, list_code in AUDIENCE_LISTS.items():
        known = known_codes(session, list_code)
        for index, value in enumerate(getattr(body.audience, part)):
            if known and value not in known:
                raise _invalid(f"audience.{part}.{index}", f"unknown code {value!r}")


def _apply(row: MandatoryLearning, body: MandatoryLearningFields) -> bool:
    dumped = body.model_dump(mode="json")
    values: dict[str, Any] = {
        "title_lv": body.title.lv,
        "title_en": body.title.en,
        "courses": dumped["courses"],
        "audience": dumped["audience"],
        "within_days_of_start": body.within_days_of_start,
        "effective_from": body.effective_from,
        "requires_passed_test": body.requires_passed_test,
        "source": dumped["source"],
    }
    changed = any(getattr(row, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(row, key, value)
    return changed


def _record(session: Session, row: MandatoryLearning, operation: str, client_id: str) -> None:
    record_change(
        session,
        entity=ENTITY,
        code=row.code,
        version=row.version,
        operation=operation,
        client_id=client_id,
        snapshot=to_public(row).model_dump(mode="json"),
    )


def create(session: Session, body: MandatoryLearningCreate, client_id: str) -> MandatoryLearning:
    """A new rule (version 1)."""
    if session.exec(
        select(MandatoryLearning.id).where(MandatoryLearning.code == body.code)
    ).first():
        raise MandatoryLearningExists(f"The rule {body.code!r} exists already", code=body.code)
    _check_codes(session, body)
    row = MandatoryLearning(code=body.code)
    _apply(row, body)
    session.add(row)
    session.flush()
    _record(session, row, "create", client_id)
    return row


def update(
    session: Session, row: MandatoryLearning, body: MandatoryLearningFields, client_id: str
) -> MandatoryLearning:
    """Apply new content to a rule; a new version only when something changed."""
    if row.archived_at is not None:
        raise MandatoryLearningArchived(f"The rule {row.code!r} is archived", code=row.code)
    _check_codes(session, body)
    if _apply(row, body):
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        _record(session, row, "update", client_id)
    return row


def replace(
    session: Session,
    code: str,
    body: MandatoryLearningFields,
    if_match: str | None,
    client_id: str,
) -> MandatoryLearning:
    """Replace a rule's content, guarded by If-Match."""
    row = get_row(session, code, for_update=True)
    check_if_match(if_match, row.version)
    return update(session, row, body, client_id)


def archive(session: Session, code: str, if_match: str | None, client_id: str) -> MandatoryLearning:
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
