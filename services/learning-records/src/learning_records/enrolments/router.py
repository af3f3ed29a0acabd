"""Reading enrolments: lists by institution, course, status and period with cursor pages."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col, select

from learning_records.enrolments.models import Enrolment
from learning_records.people.access import record_visible
from learning_records.people.models import Person
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

router = APIRouter(prefix="/v1/enrolments", tags=["enrolments"])


class EnrolmentPublic(BaseModel):
    """An enrolment as partners read it; the person appears as their pseudonym."""

    id: int
    person: str
    course_code: str
    session_code: str | None
    institution: str | None
    status: str
    enrolled_on: date | None
    status_date: date
    completed_on: date | None
    hours: float | None
    source_system: str
    external_id: str
    seq: int


@router.get("", response_model=Page[EnrolmentPublic], summary="List enrolments")
def list_enrolments(
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
    page: Annotated[PageParams, Depends(page_params)],
    institution: str | None = None,
    course_code: str | None = None,
    status: str | None = None,
    person: Annotated[str | None, Query(description="The person's pseudonym")] = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
) -> Page[EnrolmentPublic]:
    """Enrolments matching the filters (status date within from–to), oldest id first."""
    query = (
        select(Enrolment, Person.pseudonym)
        .join(Person, col(Person.id) == col(Enrolment.person_id))
        .where(record_visible(principal, Enrolment))
    )
    if institution is not None:
        query = query.where(col(Enrolment.institution) == institution)
    if course_code is not None:
        query = query.where(col(Enrolment.course_code) == course_code)
    if status is not None:
        query = query.where(col(Enrolment.status) == status)
    if person is not None:
        query = query.where(col(Person.pseudonym) == person)
    if period_from is not None:
        query = query.where(col(Enrolment.status_date) >= period_from)
    if period_to is not None:
        query = query.where(col(Enrolment.status_date) <= period_to)
    total = count_of(session, query)
    if (after := page.after_int("id")) is not None:
        query = query.where(col(Enrolment.id) > after)
    rows = session.exec(query.order_by(col(Enrolment.id)).limit(page.limit + 1)).all()
    items = [
        EnrolmentPublic(person=pseudonym, **enrolment.model_dump(exclude={"person_id"}))
        for enrolment, pseudonym in rows
    ]
    return make_page(items, page.limit, key=lambda e: {"id": e.id}, count=total)
