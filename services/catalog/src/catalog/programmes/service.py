"""Programmes and courses: list, read, create, change, archive; every write versioned."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import Session, col, delete, select

from catalog.changes.service import record_change
from catalog.common.concurrency import check_if_match
from catalog.common.i18n import LocalizedText, text_of
from catalog.common.search import matches, search_text
from catalog.common.time import utcnow
from catalog.institutions.models import Institution
from catalog.plans.models import NATIONAL_PLAN, Indicator, Measure
from catalog.programmes.models import (
    Course,
    CourseCreate,
    CoursePublic,
    CourseUpdate,
    OfferingFields,
    OfferingTag,
    Programme,
    ProgrammeCreate,
    ProgrammePublic,
    ProgrammeUpdate,
)
from catalog.reference.service import known_codes
from pilnveide_kit.errors import Conflict, NotFound, UnprocessableContent, validation_errors
from pilnveide_kit.pagination import PageParams, count_of

Row = TypeVar("Row", Programme, Course)

TARGET_GROUP_LISTS = ("roles", "participant_groups", "position_groups", "management_levels")


class ProgrammeNotFound(NotFound):
    """No programme has this code."""

    slug = "programme-not-found"


class CourseNotFound(NotFound):
    """No course has this code."""

    slug = "course-not-found"


class OfferingExists(Conflict):
    """A programme or course with this code exists already."""

    slug = "code-exists"


class OfferingArchived(Conflict):
    """Archived programmes and courses cannot be changed."""

    slug = "archived"


class InvalidReference(UnprocessableContent):
    """A field names a code the catalog does not know."""

    slug = "validation-error"


def _entity(model: type[Programme] | type[Course]) -> str:
    return "programme" if model is Programme else "course"


def derived_tags(row: Programme | Course) -> list[str]:
    """Every tag of a row: links to measures, indicators, programme, format, groups, and extras."""
    entity = _entity(type(row))
    tags = [f"{entity}:{row.code}"]
    if isinstance(row, Course) and row.programme_code:
        tags.append(f"programme:{row.programme_code}")
    tags += [f"measure:{m}" for m in row.measures]
    tags += [f"indicator:{i}" for i in row.indicators]
    tags.append(f"format:{row.format}")
    tags += [f"target_group:{g}" for g in row.target_groups]
    if row.provider:
        tags.append(f"provider:{row.provider}")
    if row.mandatory:
        tags.append("mandatory")
    if isinstance(row, Course) and row.knowledge_test:
        tags.append("knowledge_test")
    tags += row.tags
    return list(dict.fromkeys(tags))


def programme_public(session: Session, row: Programme) -> ProgrammePublic:
    """The served shape of a programme."""
    courses = session.exec(
        select(Course.code).where(Course.programme_code == row.code).order_by(col(Course.code))
    ).all()
    return ProgrammePublic(**_common(row), courses=list(courses))


def course_public(row: Course) -> CoursePublic:
    """The served shape of a course."""
    return CoursePublic(
        **_common(row),
        programme=row.programme_code,
        knowledge_test=row.knowledge_test,
        pass_mark=row.pass_mark,
    )


def _common(row: Programme | Course) -> dict[str, Any]:
    return {
        "code": row.code,
        "title": text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
        "description": text_of(row.description_lv, row.description_en),
        "format": row.format,
        "provider": row.provider,
        "mandatory": row.mandatory,
        "hours": row.hours,
        "target_groups": row.target_groups,
        "measures": row.measures,
        "indicators": row.indicators,
        "tags": derived_tags(row),
        "version": row.version,
        "archived": row.archived_at is not None,
        "archived_at": row.archived_at,
        "updated_at": row.updated_at,
    }


def list_rows(
    session: Session,
    model: type[Row],
    *,
    measure: str | None,
    indicator: str | None,
    format: str | None,
    mandatory: bool | None,
    target_group: str | None,
    programme: str | None,
    tag: str | None,
    q: str | None,
    include_archived: bool,
    page: PageParams,
) -> tuple[list[Row], int]:
    """Programmes or courses ordered by code, filtered (filters combine with AND)."""
    entity = _entity(model)
    query = select(model)
    wanted = [
        t
        for t in (
            f"measure:{measure}" if measure else None,
            f"indicator:{indicator}" if indicator else None,
            f"target_group:{target_group}" if target_group else None,
            f"programme:{programme}" if programme else None,
            tag,
        )
        if t
    ]
    for t in wanted:
        query = query.where(
            col(model.code).in_(
                select(OfferingTag.entity_code).where(
                    OfferingTag.entity == entity, OfferingTag.tag == t
                )
            )
        )
    if format:
        query = query.where(model.format == format)
    if mandatory is not None:
        query = query.where(model.mandatory == mandatory)
    if q:
        query = query.where(matches(model.search_text, q))
    if not include_archived:
        query = query.where(col(model.archived_at).is_(None))
    total = count_of(session, query)
    if (after := page.after_str("code")) is not None:
        query = query.where(col(model.code) > after)
    query = query.order_by(col(model.code)).limit(page.limit + 1)
    return list(session.exec(query).all()), total


def get_row(session: Session, model: type[Row], code: str, *, for_update: bool = False) -> Row:
    """The programme or course with this code, or a 404 problem."""
    query = select(model).where(model.code == code)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        error = ProgrammeNotFound if model is Programme else CourseNotFound
        raise error(f"No {_entity(model)} has the code {code!r}", code=code)
    return row


def _invalid(field: str, reason: str) -> InvalidReference:
    return InvalidReference(
        f"The request is not valid: {field}",
        errors=[{"name": field, "reason": reason, "location": "body"}],
    )


def validate_links(session: Session, body: OfferingFields, *, own_code: str | None = None) -> None:
    """Every code named must exist: format, provider, target groups, measures, indicators."""
    formats = known_codes(session, "learning_formats")
    if formats and body.format not in formats:
        raise _invalid("format", f"unknown learning format {body.format!r}")
    if (
        body.provider
        and not session.exec(
            select(Institution.id).where(Institution.code == body.provider)
        ).first()
    ):
        raise _invalid("provider", f"unknown institution {body.provider!r}")
    groups: set[str] = set()
    for list_code in TARGET_GROUP_LISTS:
        groups |= known_codes(session, list_code)
    for index, group in enumerate(body.target_groups):
        if groups and group not in groups:
            raise _invalid(f"target_groups.{index}", f"unknown target group {group!r}")
    measures = set(
        session.exec(select(Measure.code).where(Measure.plan_code == NATIONAL_PLAN)).all()
    )
    for index, code in enumerate(body.measures):
        if code not in measures:
            raise _invalid(f"measures.{index}", f"the plan has no measure {code!r}")
    indicators = set(
        session.exec(select(Indicator.code).where(Indicator.plan_code == NATIONAL_PLAN)).all()
    )
    for index, code in enumerate(body.indicators):
        if code not in indicators:
            raise _invalid(f"indicators.{index}", f"the plan has no indicator {code!r}")
    if isinstance(body, CourseCreate):
        if body.pass_mark is not None and not body.knowledge_test:
            raise _invalid("pass_mark", "a pass mark needs knowledge_test: true")
        if (
            body.programme
            and not session.exec(
                select(Programme.id).where(Programme.code == body.programme)
            ).first()
        ):
            raise _invalid("programme", f"unknown programme {body.programme!r}")


def _apply(row: Programme | Course, body: OfferingFields) -> bool:
    """Set a row's fields from a full body; True when something changed."""
    values: dict[str, Any] = {
        "title_lv": body.title.lv or "",
        "title_en": body.title.en,
        "description_lv": body.description.lv if body.description else None,
        "description_en": body.description.en if body.description else None,
        "format": body.format,
        "provider": body.provider,
        "mandatory": body.mandatory,
        "hours": body.hours,
        "target_groups": list(body.target_groups),
        "measures": list(body.measures),
        "indicators": list(body.indicators),
        "tags": list(body.tags),
    }
    if isinstance(row, Course) and isinstance(body, CourseCreate):
        values |= {
            "programme_code": body.programme,
            "knowledge_test": body.knowledge_test,
            "pass_mark": body.pass_mark,
        }
    changed = any(getattr(row, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(row, key, value)
    row.search_text = search_text(
        row.code, row.title_lv, row.title_en, row.description_lv, row.description_en
    )
    return changed


def _sync_tags(session: Session, row: Programme | Course) -> None:
    entity = _entity(type(row))
    session.exec(
        delete(OfferingTag).where(
            col(OfferingTag.entity) == entity, col(OfferingTag.entity_code) == row.code
        )
    )
    for tag in derived_tags(row):
        session.add(OfferingTag(entity=entity, entity_code=row.code, tag=tag))
    session.flush()


def _snapshot(session: Session, row: Programme | Course) -> dict[str, Any]:
    public = programme_public(session, row) if isinstance(row, Programme) else course_public(row)
    return public.model_dump(mode="json")


def _record(session: Session, row: Programme | Course, operation: str, client_id: str) -> None:
    record_change(
        session,
        entity=_entity(type(row)),
        code=row.code,
        version=row.version,
        operation=operation,
        client_id=client_id,
        snapshot=_snapshot(session, row),
    )


def create(
    session: Session,
    model: type[Row],
    body: ProgrammeCreate | CourseCreate,
    client_id: str,
    *,
    check_links: bool = True,
) -> Row:
    """A new programme or course (version 1); the loader may skip link checks (seeds are
    reviewed, and may load before the plan they point at)."""
    if session.exec(select(model.id).where(model.code == body.code)).first():
        raise OfferingExists(f"The {_entity(model)} {body.code!r} exists already", code=body.code)
    if check_links:
        validate_links(session, body)
    row = model(code=body.code, title_lv="", format=body.format)
    _apply(row, body)
    session.add(row)
    session.flush()
    _sync_tags(session, row)
    _record(session, row, "create", client_id)
    return row


def _current(row: Programme | Course) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": row.code,
        "title": text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
        "description": text_of(row.description_lv, row.description_en),
        "format": row.format,
        "provider": row.provider,
        "mandatory": row.mandatory,
        "hours": row.hours,
        "target_groups": row.target_groups,
        "measures": row.measures,
        "indicators": row.indicators,
        "tags": row.tags,
    }
    if isinstance(row, Course):
        data |= {
            "programme": row.programme_code,
            "knowledge_test": row.knowledge_test,
            "pass_mark": row.pass_mark,
        }
    return data


def update(
    session: Session,
    model: type[Row],
    code: str,
    body: ProgrammeUpdate | CourseUpdate,
    if_match: str | None,
    client_id: str,
) -> Row:
    """Change the given fields, guarded by If-Match; an identical change makes no new version."""
    row = get_row(session, model, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is not None:
        raise OfferingArchived(f"The {_entity(model)} {code!r} is archived", code=code)
    merged = _current(row) | {k: getattr(body, k) for k in body.model_fields_set}
    try:
        full: ProgrammeCreate | CourseCreate = (
            ProgrammeCreate.model_validate(merged)
            if model is Programme
            else CourseCreate.model_validate(merged)
        )
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise InvalidReference(
            "The request is not valid: " + ", ".join(e["name"] for e in errors[:5]),
            errors=[{**e, "location": "body"} for e in errors],
        ) from exc
    validate_links(session, full)
    if _apply(row, full):
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        _sync_tags(session, row)
        _record(session, row, "update", client_id)
    return row


def archive(
    session: Session, model: type[Row], code: str, if_match: str | None, client_id: str
) -> Row:
    """Archive instead of delete: kept for records that refer to it, hidden from lists."""
    row = get_row(session, model, code, for_update=True)
    check_if_match(if_match, row.version)
    if row.archived_at is None:
        row.archived_at = utcnow()
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        _record(session, row, "archive", client_id)
    return row
