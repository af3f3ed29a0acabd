"""Administration of the statement → learning record mapping under /v1/xapi (JSON API, tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import delete, select, update
from sqlmodel import Field, SQLModel

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.models import XapiCourseMapping, XapiStatement
from learning_records.xapi.statements import as_utc
from learning_records.xapi.validation import is_iri
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import BadRequest, Forbidden, NotFound
from pilnveide_kit.pagination import Page, PageParams, make_page, page_params

S = XapiStatement.__table__  # type: ignore[attr-defined]
CM = XapiCourseMapping.__table__  # type: ignore[attr-defined]

router = APIRouter(prefix="/v1/xapi", tags=["xAPI mapping"])


class CourseMappingNotFound(NotFound):
    """No mapping for this activity id."""

    slug = "xapi-course-mapping-not-found"


class ActivityIdInvalid(BadRequest):
    """The activity id is not an IRI."""

    slug = "xapi-activity-id-invalid"


class CourseMappingForbidden(Forbidden):
    """Course mappings hold for every institution: a restricted admin cannot change them."""

    slug = "xapi-course-mapping-forbidden"


def _unrestricted(principal: Principal) -> None:
    if principal.restricted:
        raise CourseMappingForbidden(
            "Course mappings apply to every institution; a restricted client cannot change them"
        )


class StatementMappingPublic(SQLModel):
    """A stored statement's mapping outcome (no personal data: the actor is not shown)."""

    statement_id: str
    stored: datetime
    verb_id: str
    object_type: str
    object_id: str | None
    mapping_status: str
    mapping_detail: str | None
    voided: bool


class CourseMappingBase(SQLModel):
    """An xAPI activity id standing for a catalog course."""

    activity_id: str = Field(max_length=2048, description="The activity's IRI")
    course_code: str = Field(min_length=1, max_length=64, description="The catalog course code")


class CourseMappingPublic(CourseMappingBase):
    """A course mapping as returned."""


@router.get(
    "/statements/outcomes",
    response_model=Page[StatementMappingPublic],
    summary="List statements by mapping outcome",
)
def list_statement_outcomes(
    session: SessionDep,
    principal: Annotated[Principal, require("xapi:read")],
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        Literal["unmapped", "rejected", "error", "mapped", "reverted", "ignored"],
        Query(description="Which outcome to list"),
    ] = "unmapped",
) -> Page[StatementMappingPublic]:
    """Statements with a mapping outcome (default: unmapped, i.e. stored but meaning no record);
    a restricted client sees only the statements of its institutions' partitions."""
    access = XapiAccess(session, principal.institutions)
    query = select(
        S.c.seq,
        S.c.statement_id,
        S.c.stored,
        S.c.verb_id,
        S.c.object_type,
        S.c.object_key,
        S.c.mapping_status,
        S.c.mapping_detail,
        S.c.voided,
    ).where(S.c.mapping_status == status, access.visible(S.c.partition))
    if (after_seq := page.after_int("seq")) is not None:
        query = query.where(S.c.seq > after_seq)
    rows = session.execute(query.order_by(S.c.seq).limit(page.limit + 1)).all()
    items = [
        (
            row.seq,
            StatementMappingPublic(
                statement_id=row.statement_id,
                stored=as_utc(row.stored),
                verb_id=row.verb_id,
                object_type=row.object_type,
                object_id=row.object_key
                if row.object_type in ("Activity", "StatementRef")
                else None,
                mapping_status=row.mapping_status,
                mapping_detail=row.mapping_detail,
                voided=bool(row.voided),
            ),
        )
        for row in rows
    ]
    built = make_page(items, page.limit, key=lambda item: {"seq": item[0]})
    return Page[StatementMappingPublic](
        data=[item for _, item in built.data], next_cursor=built.next_cursor
    )


@router.get(
    "/course-mappings",
    response_model=Page[CourseMappingPublic],
    summary="List course mappings",
)
def list_course_mappings(
    session: SessionDep,
    _principal: Annotated[Principal, require("xapi:read")],
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[CourseMappingPublic]:
    """Activity ids mapped to catalog courses, in activity id order."""
    query = select(CM.c.activity_id, CM.c.course_code)
    if (after_id := page.after_str("activity_id")) is not None:
        query = query.where(CM.c.activity_id > after_id)
    rows = session.execute(query.order_by(CM.c.activity_id).limit(page.limit + 1)).all()
    items = [
        CourseMappingPublic(activity_id=r.activity_id, course_code=r.course_code) for r in rows
    ]
    return make_page(items, page.limit, key=lambda item: {"activity_id": item.activity_id})


@router.put(
    "/course-mappings",
    response_model=CourseMappingPublic,
    summary="Map an activity to a course",
)
def put_course_mapping(
    session: SessionDep,
    principal: Annotated[Principal, require("admin")],
    mapping: CourseMappingBase,
) -> CourseMappingPublic:
    """Create or replace the course an activity id stands for (later statements use it);
    unrestricted admins only."""
    _unrestricted(principal)
    if not is_iri(mapping.activity_id):
        raise ActivityIdInvalid("activity_id must be an IRI")
    changed = session.execute(
        update(CM)
        .where(CM.c.activity_id == mapping.activity_id)
        .values(course_code=mapping.course_code)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        session.execute(
            CM.insert().values(activity_id=mapping.activity_id, course_code=mapping.course_code)
        )
    return CourseMappingPublic.model_validate(mapping.model_dump())


@router.delete(
    "/course-mappings",
    status_code=204,
    summary="Remove a course mapping",
)
def delete_course_mapping(
    session: SessionDep,
    principal: Annotated[Principal, require("admin")],
    activity_id: Annotated[str, Query(description="The activity's IRI")],
) -> None:
    """Remove the mapping of an activity id (already mapped statements keep their records);
    unrestricted admins only."""
    _unrestricted(principal)
    removed = session.execute(delete(CM).where(CM.c.activity_id == activity_id)).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise CourseMappingNotFound(f"No course mapping for {activity_id}")
