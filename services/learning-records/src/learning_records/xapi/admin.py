"""Administration of the statement → learning record mapping under /v1/xapi (JSON API, tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import delete, select, update
from sqlmodel import Field, SQLModel

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.models import XapiCourseMapping, XapiStatement
from learning_records.xapi.reapply import ReapplyCounts, reapply_mappings
from learning_records.xapi.settings import XapiSettings, xapi_settings
from learning_records.xapi.statements import as_utc
from learning_records.xapi.validation import is_iri
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import BadRequest, Forbidden, NotFound
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

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


class CourseMappingSaved(CourseMappingPublic):
    """A course mapping as saved, with what it means for the statements already stored."""

    remappable_statements: int = Field(
        description="Stored unmapped, not voided statements on this activity that map now "
        "(POST /v1/xapi/course-mappings/reapply applies them)"
    )


class ReapplyRequest(SQLModel):
    """What to re-apply."""

    dry_run: bool = Field(
        default=True, description="Only count (the default); false applies the mappings"
    )
    activity_id: str | None = Field(
        default=None, max_length=2048, description="Only the statements on this activity"
    )


class ReapplyReport(SQLModel):
    """What a re-apply of the course mappings found and, unless a dry run, did."""

    dry_run: bool
    examined: int = Field(description="Unmapped, not voided statements looked at")
    matched: int = Field(description="Of those, statements that map under the current mappings")
    by_course: dict[str, int] = Field(description="Matched statements per catalog course code")
    mapped: int = Field(description="Applied and now mapped (0 in a dry run)")
    rejected: int = Field(
        description="Now rejected: the person is not employed at the writer's institutions "
        "(0 in a dry run)"
    )
    errors: int = Field(description="Refused by the learning records (0 in a dry run)")

    @classmethod
    def of(cls, counts: ReapplyCounts, dry_run: bool) -> ReapplyReport:
        """The report of a re-apply's counts."""
        return cls(
            dry_run=dry_run,
            examined=counts.examined,
            matched=counts.matched,
            by_course=dict(sorted(counts.by_course.items())),
            mapped=counts.outcomes["mapped"],
            rejected=counts.outcomes["rejected"],
            errors=counts.outcomes["error"],
        )


def _pepper(request: Request) -> str:
    return str(request.app.state.settings.pseudonym_pepper)


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
    total = count_of(session, query)
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
    built = make_page(items, page.limit, key=lambda item: {"seq": item[0]}, count=total)
    return Page[StatementMappingPublic](
        data=[item for _, item in built.data], count=total, next_cursor=built.next_cursor
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
    total = count_of(session, query)
    if (after_id := page.after_str("activity_id")) is not None:
        query = query.where(CM.c.activity_id > after_id)
    rows = session.execute(query.order_by(CM.c.activity_id).limit(page.limit + 1)).all()
    items = [
        CourseMappingPublic(activity_id=r.activity_id, course_code=r.course_code) for r in rows
    ]
    return make_page(
        items, page.limit, key=lambda item: {"activity_id": item.activity_id}, count=total
    )


@router.put(
    "/course-mappings",
    response_model=CourseMappingSaved,
    summary="Map an activity to a course",
)
def put_course_mapping(
    session: SessionDep,
    request: Request,
    settings: Annotated[XapiSettings, Depends(xapi_settings)],
    principal: Annotated[Principal, require("admin")],
    mapping: CourseMappingBase,
) -> CourseMappingSaved:
    """Create or replace the course an activity id stands for (later statements use it;
    statements already stored are re-mapped by POST /v1/xapi/course-mappings/reapply, and the
    answer counts them); unrestricted admins only."""
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
    counts = reapply_mappings(
        session,
        settings,
        _pepper(request),
        XapiAccess(session, principal.institutions),
        dry_run=True,
        activity_id=mapping.activity_id,
    )
    return CourseMappingSaved(**mapping.model_dump(), remappable_statements=counts.matched)


@router.post(
    "/course-mappings/reapply",
    response_model=ReapplyReport,
    summary="Re-apply the course mappings to stored statements",
)
def reapply_course_mappings(
    session: SessionDep,
    request: Request,
    settings: Annotated[XapiSettings, Depends(xapi_settings)],
    principal: Annotated[Principal, require("admin")],
    body: ReapplyRequest | None = None,
) -> ReapplyReport:
    """Run the current course mappings over the stored statements whose outcome is unmapped
    (not voided), each with the client and institutions that wrote it, as if it arrived now:
    enrolments are created or updated and the outcome becomes mapped (or rejected / error).
    By default a dry run that only counts; `dry_run: false` applies. Running it again changes
    nothing. A restricted client re-applies only the statements of its institutions' partitions."""
    wanted = body or ReapplyRequest()
    if wanted.activity_id is not None and not is_iri(wanted.activity_id):
        raise ActivityIdInvalid("activity_id must be an IRI")
    access = XapiAccess(session, principal.institutions)
    access.own_partition()  # 403 for a client restricted to no institution
    counts = reapply_mappings(
        session,
        settings,
        _pepper(request),
        access,
        dry_run=wanted.dry_run,
        activity_id=wanted.activity_id,
    )
    return ReapplyReport.of(counts, wanted.dry_run)


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
