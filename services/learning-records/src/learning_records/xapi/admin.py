"""Course mappings under /v1/xapi (JSON API, tokens): list, set one, upload many, remove,
re-apply to stored statements. Who manages which mappings: course_mappings.py."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, or_, select
from sqlmodel import Field, Session, SQLModel

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.course_mappings import (
    CM,
    GLOBAL,
    MappingItem,
    MappingUploadInvalid,
    classify,
    items_of,
    owner_of,
    parse_csv,
    write,
)
from learning_records.xapi.reapply import ReapplyCounts, reapply_mappings
from learning_records.xapi.settings import XapiSettings, xapi_settings
from learning_records.xapi.validation import is_iri
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import BadRequest, NotFound, UnprocessableContent
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

router = APIRouter(prefix="/v1/xapi", tags=["xAPI mapping"])
MapperDep = Annotated[Principal, require("xapi:mappings")]


class CourseMappingNotFound(NotFound):
    """No mapping for this activity id."""

    slug = "xapi-course-mapping-not-found"


class ActivityIdInvalid(BadRequest):
    """The activity id is not an IRI."""

    slug = "xapi-activity-id-invalid"


class CourseMappingsRefused(UnprocessableContent):
    """An upload (or one mapping) with invalid items: nothing was changed."""

    slug = "xapi-course-mappings-refused"


class CourseMappingBase(SQLModel):
    """An xAPI activity id standing for a catalog course."""

    activity_id: str = Field(max_length=2048, description="The activity's IRI")
    course_code: str = Field(min_length=1, max_length=64, description="The catalog course code")


class CourseMappingPublic(CourseMappingBase):
    """A course mapping as returned."""

    owner: str = Field(
        default=GLOBAL,
        description='The API client whose statements it applies to; "" for a global mapping',
    )


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


class MappingItemOutcome(SQLModel):
    """What became (or, in a dry run, would become) of one uploaded mapping."""

    index: int
    activity_id: str
    course_code: str
    outcome: str = Field(description="created, updated, unchanged or invalid")
    detail: str | None = Field(default=None, description="Why an item is invalid")
    field: str | None = Field(
        default=None, description="The field an invalid item fails on: activity_id or course_code"
    )


class MappingUploadReport(SQLModel):
    """An upload's per-item outcomes, counts, and the re-apply to the stored statements."""

    dry_run: bool
    owner: str = Field(description='Whose mappings these are ("" for global ones)')
    counts: dict[str, int] = Field(description="Items per outcome")
    items: list[MappingItemOutcome]
    reapply: ReapplyReport = Field(
        description="The uploaded activities' stored unmapped statements (the owner's own, or "
        "every client's for global mappings): counted in a dry run, applied otherwise"
    )


def _pepper(request: Request) -> str:
    return str(request.app.state.settings.pseudonym_pepper)


def _reapply(
    session: SessionDep,
    request: Request,
    settings: XapiSettings,
    principal: Principal,
    owner: str,
    *,
    dry_run: bool,
    activity_id: str | None = None,
    activities: list[str] | None = None,
) -> ReapplyCounts:
    """Re-apply to the statements the mappings of `owner` concern: a client's own statements
    (whatever its restriction, within the partitions it sees), or, for global mappings, every
    statement the (unrestricted) admin sees."""
    return reapply_mappings(
        session,
        settings,
        _pepper(request),
        XapiAccess(session, principal.institutions),
        dry_run=dry_run,
        activity_id=activity_id,
        activities=activities,
        client_id=None if owner == GLOBAL else owner,
    )


@router.get(
    "/course-mappings",
    response_model=Page[CourseMappingPublic],
    summary="List course mappings",
)
def list_course_mappings(
    session: SessionDep,
    principal: Annotated[Principal, require("xapi:read")],
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[CourseMappingPublic]:
    """The global mappings and the caller's own (an admin: every client's), in (activity id,
    owner) order."""
    query = select(CM.c.owner, CM.c.activity_id, CM.c.course_code)
    if "admin" not in principal.scopes:
        query = query.where(CM.c.owner.in_([GLOBAL, principal.client_id]))
    total = count_of(session, query)
    after_id, after_owner = page.after_str("activity_id"), page.after_str("owner")
    if after_id is not None:
        query = query.where(
            or_(
                CM.c.activity_id > after_id,
                (CM.c.activity_id == after_id) & (CM.c.owner > (after_owner or "")),
            )
        )
    rows = session.execute(query.order_by(CM.c.activity_id, CM.c.owner).limit(page.limit + 1)).all()
    items = [
        CourseMappingPublic(owner=r.owner, activity_id=r.activity_id, course_code=r.course_code)
        for r in rows
    ]
    return make_page(
        items,
        page.limit,
        key=lambda item: {"activity_id": item.activity_id, "owner": item.owner},
        count=total,
    )


def _refuse_invalid(items: list[MappingItem]) -> None:
    invalid = [i for i in items if i.outcome == "invalid"]
    if invalid:
        raise CourseMappingsRefused(
            f"{len(invalid)} mapping(s) refused; nothing was changed",
            errors=[
                {
                    "name": f"[{i.index}].{i.field}",
                    "reason": i.detail or "invalid",
                    "location": "body",
                    "index": i.index,
                    "activity_id": i.activity_id,
                }
                for i in invalid
            ],
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
    principal: MapperDep,
    mapping: CourseMappingBase,
) -> CourseMappingSaved:
    """Create or replace the course an activity id stands for: a global mapping for an
    unrestricted admin, the caller's own otherwise (applies to the statements it writes). Later
    statements use it; stored ones are re-mapped by POST /v1/xapi/course-mappings/reapply (the
    answer counts them). An unknown course code is refused (422)."""
    owner = owner_of(principal)
    if not is_iri(mapping.activity_id):
        raise ActivityIdInvalid("activity_id must be an IRI")
    items = [MappingItem(0, mapping.activity_id, mapping.course_code)]
    classify(session, owner, items)
    _refuse_invalid(items)
    write(session, owner, items)
    counts = _reapply(
        session, request, settings, principal, owner, dry_run=True, activity_id=mapping.activity_id
    )
    return CourseMappingSaved(
        **mapping.model_dump(), owner=owner, remappable_statements=counts.matched
    )


@router.post(
    "/course-mappings/bulk",
    response_model=MappingUploadReport,
    summary="Upload many course mappings (JSON or CSV)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/CourseMappingBase"},
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def upload_course_mappings(
    session: SessionDep,
    request: Request,
    settings: Annotated[XapiSettings, Depends(xapi_settings)],
    principal: MapperDep,
    dry_run: Annotated[
        bool, Query(description="Only report what would change (nothing is written)")
    ] = False,
) -> MappingUploadReport:
    """Create or replace many mappings at once (the caller's own; global ones for an
    unrestricted admin): a JSON array of {activity_id, course_code} or CSV with the header
    `activity_id,course_code`. All or nothing: an invalid item (no IRI, unknown course code,
    an activity twice) is 422 listing every invalid item, and nothing changes. Unless a dry run,
    the uploaded activities' stored unmapped statements are then re-applied."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # The session is synchronous: its work runs in a worker thread. On the event loop, a wait
    # for SQLite's write lock froze the whole service, the lock's holder included (the fuzz
    # run's 30 s timeouts).
    return await run_in_threadpool(
        _upload, session, request, settings, principal, body, media, dry_run=dry_run
    )


def _upload(
    session: Session,
    request: Request,
    settings: XapiSettings,
    principal: Principal,
    body: bytes,
    media: str,
    *,
    dry_run: bool,
) -> MappingUploadReport:
    """The upload's work, in a worker thread: classify, write, re-apply (see the route)."""
    owner = owner_of(principal)
    try:
        text = body.decode("utf-8-sig")
        rows: Any = parse_csv(text) if media == "text/csv" else json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MappingUploadInvalid(
            "The body must be a JSON array of mappings or CSV (Content-Type: text/csv)"
        ) from None
    items = items_of(rows)
    classify(session, owner, items)
    if not dry_run:
        _refuse_invalid(items)
    # A dry run counts with the uploaded mappings in place, then takes them back.
    savepoint = session.begin_nested() if dry_run else None
    write(session, owner, items)
    counts = _reapply(
        session,
        request,
        settings,
        principal,
        owner,
        dry_run=dry_run,
        activities=[i.activity_id for i in items if i.outcome != "invalid"],
    )
    if savepoint is not None:
        savepoint.rollback()
    tally: dict[str, int] = {"created": 0, "updated": 0, "unchanged": 0, "invalid": 0}
    for item in items:
        tally[item.outcome] += 1
    return MappingUploadReport(
        dry_run=dry_run,
        owner=owner,
        counts=tally,
        items=[MappingItemOutcome(**vars(i)) for i in items],
        reapply=ReapplyReport.of(counts, dry_run),
    )


@router.post(
    "/course-mappings/reapply",
    response_model=ReapplyReport,
    summary="Re-apply the course mappings to stored statements",
)
def reapply_course_mappings(
    session: SessionDep,
    request: Request,
    settings: Annotated[XapiSettings, Depends(xapi_settings)],
    principal: MapperDep,
    body: ReapplyRequest | None = None,
) -> ReapplyReport:
    """Run the current course mappings over the stored statements whose outcome is unmapped
    (not voided), each with the client and institutions that wrote it, as if it arrived now:
    enrolments are created or updated and the outcome becomes mapped (or rejected / error).
    By default a dry run that only counts; `dry_run: false` applies. Running it again changes
    nothing. An admin re-applies every statement of the partitions it sees (a restricted one
    only its institutions'); any other client only the statements it wrote."""
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
        client_id=None if "admin" in principal.scopes else principal.client_id,
    )
    return ReapplyReport.of(counts, wanted.dry_run)


@router.delete(
    "/course-mappings",
    status_code=204,
    summary="Remove a course mapping",
)
def delete_course_mapping(
    session: SessionDep,
    principal: MapperDep,
    activity_id: Annotated[str, Query(description="The activity's IRI")],
) -> None:
    """Remove a mapping of an activity id: the caller's own (a global one for an unrestricted
    admin). Already mapped statements keep their records."""
    owner = owner_of(principal)
    removed = session.execute(
        delete(CM).where(CM.c.owner == owner, CM.c.activity_id == activity_id)
    ).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise CourseMappingNotFound(f"No course mapping of yours for {activity_id}")
