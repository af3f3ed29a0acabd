"""The rows an aggregation counts: one per matching enrolment, competency assessment or
feedback, joined to the employment that gives the person's attributes, filtered by the
question's filter and the caller's institutions (people/access.py). The metrics and their
grouping sets are built over it in aggregations/service.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import col

from learning_records.aggregations.employment import attribute_conditions
from learning_records.aggregations.feedback import feedback_conditions
from learning_records.employment.models import Employment, RoleAssignment
from learning_records.enrolments.models import CourseTag, Enrolment
from learning_records.people.access import institution_visible, record_visible, role_visible
from learning_records.reference.models import CatalogCourseTag
from learning_records.reference.service import known_courses_query
from learning_records.results.models import CompetencyAssessment, Feedback, TestAttempt
from pilnveide_contracts.records import AggregationFilter
from pilnveide_kit.auth import Principal


def _valid_on(start: Any, end: Any, day: Any) -> ColumnElement[bool]:
    return and_(start <= day, or_(end.is_(None), end >= day))


def _course_tags(name: str) -> Any:
    """Every (tag, course) pair: the catalog copy's and those written by hand (`course-tags`)."""
    return union_all(
        select(
            col(CatalogCourseTag.tag).label("tag"),
            col(CatalogCourseTag.course_code).label("course_code"),
        ),
        select(col(CourseTag.tag).label("tag"), col(CourseTag.course_code).label("course_code")),
    ).subquery(name)


def matching_rows(
    flt: AggregationFilter,
    principal: Principal,
    *,
    known_courses: bool,
    sessions: bool = False,
    assessments: bool = False,
    resorts: Mapping[str, str] | None = None,
    feedback: bool = False,
    postgres: bool = False,
) -> Any:
    """One row per matching enrolment (or competency assessment) and employment joined; the
    metrics count distinct units over it (hours: one value per enrolment), so the rows are not
    made distinct here (that was a sort of every matching row). With `known_courses`, only
    enrolments in courses of the catalog copy match. `resorts` (institution -> resort) gives
    the `resort` key when grouped by (`_resort_of`)."""
    # Core aliases of the tables, not ORM aliased() entities: adapting every ORM attribute
    # through an alias was a third of a question's Python time.
    rows: Any = (
        _table(CompetencyAssessment).alias("a")
        if assessments
        else _table(Feedback).alias("f")
        if feedback
        else _table(Enrolment).alias("e")
    )
    e: Any = rows.c
    dated = (
        col(e.assessed_on)
        if assessments
        else col(e.submitted_on)
        if feedback
        else col(e.status_date)
    )
    jobs: Any = _table(Employment).alias("emp")
    emp: Any = jobs.c
    day: Any = literal(flt.employment_as_of) if flt.employment_as_of is not None else dated
    # A record that names its institution counts under it, with the attributes of that
    # institution's employment of the person; another institution's employment (possibly one
    # written to "claim" the person) never re-attributes it. Only records without an
    # institution take it from the employment valid on the day.
    # Asked for the people of a population on a date (`where_employed`: a share's numerator),
    # an unrestricted client counts the person where they are employed on that date, with that
    # employment's attributes, as the population (the headcount) does: someone who learnt in
    # their previous institution is one of the people who learnt. A restricted client still
    # counts only its institutions' records with its own employment.
    population = bool(flt.where_employed) and not principal.restricted
    institution = (
        func.coalesce(col(emp.institution), col(e.institution))
        if population
        else func.coalesce(col(e.institution), col(emp.institution))
    )
    own_employment = or_(col(e.institution).is_(None), col(emp.institution) == col(e.institution))
    keys: dict[str, Any] = {
        # A person who moved between institutions of one resort is one person of the resort.
        "resort": _resort_of(resorts, institution, postgres) if resorts else null(),
        "position_group": col(emp.position_group),
        "sector": col(emp.sector),
        "year": cast(extract("year", dated), Integer),
        "management_level": col(emp.management_level),
    }
    conditions: list[Any] = []
    if assessments:
        if flt.frameworks is not None:
            conditions.append(col(e.framework).in_(flt.frameworks))
        if flt.methods is not None:
            conditions.append(col(e.method).in_(flt.methods))
    if feedback:
        conditions += feedback_conditions(flt, e, principal)
    if flt.courses is not None:
        conditions.append(col(e.course_code).in_(flt.courses))
    if flt.course_tags is not None:
        tags = _course_tags("course_tags_any")
        tagged = select(tags.c.course_code).where(tags.c.tag.in_(flt.course_tags))
        conditions.append(col(e.course_code).in_(tagged))
    for number, tag in enumerate(flt.course_tags_all or []):
        every = _course_tags(f"course_tags_all_{number}")
        conditions.append(
            col(e.course_code).in_(select(every.c.course_code).where(every.c.tag == tag))
        )
    if flt.all_courses_of is not None:
        conditions.append(_whole_set(flt, e))
    if known_courses and not assessments:
        conditions.append(col(e.course_code).in_(known_courses_query()))
    if flt.statuses is not None:
        conditions.append(col(e.status).in_(flt.statuses))
    if flt.test_passed is not None:
        attempt = [
            col(TestAttempt.person_id) == col(e.person_id),
            col(TestAttempt.course_code) == col(e.course_code),
            col(TestAttempt.passed).is_(True),
            record_visible(principal, TestAttempt),
        ]
        if flt.period is not None and flt.period.to is not None:
            # A test passed after the period's end had not been passed by then.
            attempt.append(col(TestAttempt.attempted_on) <= flt.period.to)
        passed = exists(select(col(TestAttempt.id)).where(*attempt))
        conditions.append(passed if flt.test_passed else ~passed)
    if flt.period is not None and flt.period.from_ is not None:
        conditions.append(dated >= flt.period.from_)
    if flt.period is not None and flt.period.to is not None:
        conditions.append(dated <= flt.period.to)
    if flt.institutions is not None:
        conditions.append(institution.in_(flt.institutions))
    # A restricted client counts only its institutions' enrolments, with the attributes of its
    # own employment of the person (another institution's employment is never joined).
    conditions.append(record_visible(principal, e))
    conditions.extend(attribute_conditions(flt, emp))
    if flt.roles is not None:
        conditions.append(
            exists(
                select(col(RoleAssignment.id)).where(
                    col(RoleAssignment.person_id) == col(e.person_id),
                    col(RoleAssignment.role).in_(flt.roles),
                    _valid_on(col(RoleAssignment.valid_from), col(RoleAssignment.valid_to), day),
                    role_visible(principal),
                )
            )
        )
    municipality = case(
        (col(emp.sector) == "municipal", func.coalesce(col(emp.municipality), col(emp.institution)))
    )
    # A session (a run of a course: a sprint, an event) is its course and session code; read
    # only when sessions are counted.
    session = (
        case((col(e.session_code).is_not(None), col(e.course_code) + "/" + col(e.session_code)))
        if sessions and not assessments and not feedback
        else null()
    )
    statement = (
        select(
            col(e.id).label("enrolment_id"),
            col(e.person_id).label("person_id"),
            (null() if assessments or feedback else col(e.hours)).label("hours"),
            institution.label("institution"),
            municipality.label("municipality"),
            session.label("session"),
            *[expr.label(name) for name, expr in keys.items()],
        )
        .select_from(rows)
        .outerjoin(
            jobs,
            and_(
                col(emp.person_id) == col(e.person_id),
                _valid_on(col(emp.valid_from), col(emp.valid_to), day),
                true() if population else own_employment,
                institution_visible(principal, emp.institution),
            ),
        )
    )
    return statement.where(*conditions).subquery("matching")


def _table(model: Any) -> Any:
    """The Core table of a model."""
    return model.__table__


def _resort_of(resorts: Mapping[str, str], institution: Any, postgres: bool) -> Any:
    """The institution's resort. On PostgreSQL a key lookup in the institution -> resort map
    bound as one jsonb value (a binary search per row, whatever the plan); a join to the map
    was planned as a nested loop when the rows were underestimated, and a CASE of every
    institution is evaluated branch by branch on each row. SQLite keeps the CASE."""
    if postgres:
        return func.jsonb_extract_path_text(
            cast(literal(json.dumps(dict(resorts), sort_keys=True), Text()), JSONB), institution
        )
    return case(dict(resorts), value=institution)


def _whole_set(flt: AggregationFilter, e: Any) -> ColumnElement[bool]:
    """The person has an enrolment (in the statuses, by the period's end) in every course of
    the tag `all_courses_of`, and the tag has at least one course."""
    tag = _course_tags("whole_tag")
    whole: Any = _table(Enrolment).alias("whole_e")
    other: Any = whole.c
    done: list[Any] = [
        col(other.person_id) == col(e.person_id),
        col(other.course_code) == tag.c.course_code,
    ]
    if flt.statuses is not None:
        done.append(col(other.status).in_(flt.statuses))
    if flt.period is not None and flt.period.to is not None:
        done.append(col(other.status_date) <= flt.period.to)
    # Correlated explicitly: the innermost question refers to the outermost enrolment.
    done_there = exists(select(col(other.id)).where(*done).correlate_except(whole))
    missing = exists(
        select(tag.c.course_code)
        .where(tag.c.tag == flt.all_courses_of, ~done_there)
        .correlate_except(tag)
    )
    every = _course_tags("whole_tag_any")
    any_course = exists(select(every.c.course_code).where(every.c.tag == flt.all_courses_of))
    return and_(any_course, ~missing)
