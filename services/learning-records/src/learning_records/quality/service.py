"""Data quality: records kept but not counted, such as enrolments in courses the catalog lacks."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlmodel import Session, col

from learning_records.enrolments.models import Enrolment
from learning_records.people.access import record_visible
from learning_records.reference.service import has_courses, known_courses_query
from pilnveide_kit.auth import Principal

#: What an enrolment in a course missing from the catalog is flagged as.
COURSE_NOT_IN_CATALOG = "course_not_in_catalog"


class UnknownCourse(BaseModel):
    """Enrolments one source system sent for one institution in a course the catalog lacks."""

    institution: str | None
    source_system: str
    course_code: str
    enrolments: int
    people: int
    first_status_date: date
    last_status_date: date


class UnknownCourses(BaseModel):
    """The flagged enrolments, grouped; none are counted by indicators until the course exists."""

    issue: str = COURSE_NOT_IN_CATALOG
    #: False before the catalog copy holds any course: codes are then not judged at all.
    catalog_synced: bool
    data: list[UnknownCourse]


def unknown_courses(
    session: Session,
    principal: Principal,
    *,
    institution: str | None = None,
    source_system: str | None = None,
) -> UnknownCourses:
    """Enrolments whose course the catalog copy lacks, per institution, source system, course."""
    if not has_courses(session):
        return UnknownCourses(catalog_synced=False, data=[])
    query = (
        select(
            col(Enrolment.institution),
            col(Enrolment.source_system),
            col(Enrolment.course_code),
            func.count(col(Enrolment.id)),
            func.count(func.distinct(col(Enrolment.person_id))),
            func.min(col(Enrolment.status_date)),
            func.max(col(Enrolment.status_date)),
        )
        .where(
            col(Enrolment.course_code).not_in(known_courses_query()),
            record_visible(principal, Enrolment),
        )
        .group_by(
            col(Enrolment.institution), col(Enrolment.source_system), col(Enrolment.course_code)
        )
        .order_by(
            col(Enrolment.institution), col(Enrolment.source_system), col(Enrolment.course_code)
        )
    )
    if institution is not None:
        query = query.where(col(Enrolment.institution) == institution)
    if source_system is not None:
        query = query.where(col(Enrolment.source_system) == source_system)
    rows = [
        UnknownCourse(
            institution=row[0],
            source_system=row[1],
            course_code=row[2],
            enrolments=row[3],
            people=row[4],
            first_status_date=row[5],
            last_status_date=row[6],
        )
        for row in session.execute(query).all()
    ]
    return UnknownCourses(catalog_synced=True, data=rows)
