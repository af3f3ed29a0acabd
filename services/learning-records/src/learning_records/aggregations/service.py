"""Aggregations computed in the database: GROUP BY and COUNT(DISTINCT …), never rows in Python.

Person attributes (institution, sector, position group, management level, roles, civil
servant) come from the employment valid on `employment_as_of` when given, otherwise on the
enrolment's status date. Erased people have no rows left, so they are never counted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    distinct,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from learning_records.aggregations.schemas import (
    AggregationQuery,
    AggregationResult,
    Group,
    HeadcountQuery,
    HeadcountResult,
)
from learning_records.changes.service import head
from learning_records.employment.models import Employment, Headcount, RoleAssignment
from learning_records.enrolments.models import CourseTag, Enrolment
from learning_records.results.models import TestAttempt
from pilnveide_kit.auth import Principal


def _valid_on(start: Any, end: Any, day: Any) -> ColumnElement[bool]:
    return and_(start <= day, or_(end.is_(None), end >= day))


def aggregate(session: Session, query: AggregationQuery, principal: Principal) -> AggregationResult:
    """The metric over matching enrolments, per group and in total, at one feed cutoff."""
    _consistent_snapshot(session)
    cutoff = head(session)
    flt = query.filter
    e = aliased(Enrolment, name="e")
    emp = aliased(Employment, name="emp")
    day: Any = (
        literal(flt.employment_as_of) if flt.employment_as_of is not None else col(e.status_date)
    )
    institution = func.coalesce(col(emp.institution), col(e.institution))
    keys: dict[str, Any] = {
        "institution": institution,
        "position_group": col(emp.position_group),
        "sector": col(emp.sector),
        "year": cast(extract("year", col(e.status_date)), Integer),
        "management_level": col(emp.management_level),
    }
    conditions: list[Any] = []
    if flt.courses is not None:
        conditions.append(col(e.course_code).in_(flt.courses))
    if flt.course_tags is not None:
        tagged = select(col(CourseTag.course_code)).where(col(CourseTag.tag).in_(flt.course_tags))
        conditions.append(col(e.course_code).in_(tagged))
    if flt.statuses is not None:
        conditions.append(col(e.status).in_(flt.statuses))
    if flt.test_passed is not None:
        passed = exists(
            select(col(TestAttempt.id)).where(
                col(TestAttempt.person_id) == col(e.person_id),
                col(TestAttempt.course_code) == col(e.course_code),
                col(TestAttempt.passed).is_(True),
            )
        )
        conditions.append(passed if flt.test_passed else ~passed)
    if flt.period is not None and flt.period.from_ is not None:
        conditions.append(col(e.status_date) >= flt.period.from_)
    if flt.period is not None and flt.period.to is not None:
        conditions.append(col(e.status_date) <= flt.period.to)
    if flt.institutions is not None:
        conditions.append(institution.in_(flt.institutions))
    if principal.institutions is not None:
        conditions.append(institution.in_(sorted(principal.institutions)))
    if flt.sectors is not None:
        conditions.append(col(emp.sector).in_(flt.sectors))
    if flt.position_groups is not None:
        conditions.append(col(emp.position_group).in_(flt.position_groups))
    if flt.management_levels is not None:
        conditions.append(col(emp.management_level).in_(flt.management_levels))
    if flt.civil_servant is not None:
        conditions.append(col(emp.civil_servant).is_(flt.civil_servant))
    if flt.roles is not None:
        conditions.append(
            exists(
                select(col(RoleAssignment.id)).where(
                    col(RoleAssignment.person_id) == col(e.person_id),
                    col(RoleAssignment.role).in_(flt.roles),
                    _valid_on(col(RoleAssignment.valid_from), col(RoleAssignment.valid_to), day),
                )
            )
        )
    municipality = case(
        (col(emp.sector) == "municipal", func.coalesce(col(emp.municipality), col(emp.institution)))
    )
    # One row per matching enrolment and attribute combination; the metrics count over it.
    matching = (
        select(
            col(e.id).label("enrolment_id"),
            col(e.person_id).label("person_id"),
            col(e.hours).label("hours"),
            institution.label("institution"),
            municipality.label("municipality"),
            *[expr.label(name) for name, expr in keys.items() if name != "institution"],
        )
        .select_from(e)
        .outerjoin(
            emp,
            and_(
                col(emp.person_id) == col(e.person_id),
                _valid_on(col(emp.valid_from), col(emp.valid_to), day),
            ),
        )
        .where(*conditions)
        .distinct()
        .subquery("matching")
    )
    group_names: list[str] = list(query.group_by)
    total: float | int
    if query.metric == "people_with_frequency":
        groups, total = _frequency(session, query, matching, group_names)
    else:
        groups, total = _plain(session, query, matching, group_names)
    return AggregationResult(metric=query.metric, groups=groups, total=total, cutoff_seq=cutoff)


def _metric(metric: str, matching: Any) -> Any:
    columns = matching.c
    if metric == "people":
        return func.count(distinct(columns.person_id))
    if metric == "institutions":
        return func.count(distinct(columns.institution))
    if metric == "municipalities":
        return func.count(distinct(columns.municipality))
    return func.count(distinct(columns.enrolment_id))


def _plain(
    session: Session, query: AggregationQuery, matching: Any, group_names: list[str]
) -> tuple[list[Group], float | int]:
    if query.metric == "hours":
        return _hours(session, matching, group_names)
    value = _metric(query.metric, matching)
    group_columns = [matching.c[name] for name in group_names]
    groups: list[Group] = []
    if group_columns:
        rows = session.execute(
            select(*group_columns, value).group_by(*group_columns).order_by(*group_columns)
        ).all()
        groups = [
            Group(key=dict(zip(group_names, row[:-1], strict=True)), value=int(row[-1]))
            for row in rows
        ]
    total = int(session.execute(select(value)).scalar_one())
    return groups, total


def _hours(
    session: Session, matching: Any, group_names: list[str]
) -> tuple[list[Group], float | int]:
    columns = [matching.c[name] for name in group_names]
    per_group = (
        select(*columns, matching.c.enrolment_id, func.max(matching.c.hours).label("hours"))
        .group_by(*columns, matching.c.enrolment_id)
        .subquery()
    )
    groups: list[Group] = []
    if group_names:
        keyed = [per_group.c[name] for name in group_names]
        rows = session.execute(
            select(*keyed, func.coalesce(func.sum(per_group.c.hours), 0))
            .group_by(*keyed)
            .order_by(*keyed)
        ).all()
        groups = [
            Group(key=dict(zip(group_names, row[:-1], strict=True)), value=float(row[-1]))
            for row in rows
        ]
    once = (
        select(matching.c.enrolment_id, func.max(matching.c.hours).label("hours"))
        .group_by(matching.c.enrolment_id)
        .subquery()
    )
    total = session.execute(select(func.coalesce(func.sum(once.c.hours), 0))).scalar_one()
    return groups, float(total)


def _frequency(
    session: Session, query: AggregationQuery, matching: Any, group_names: list[str]
) -> tuple[list[Group], int]:
    frequency = query.frequency
    assert frequency is not None
    names = group_names if "year" in group_names else [*group_names, "year"]

    def people_meeting(keys: list[str]) -> Any:
        columns = [matching.c[name] for name in keys]
        count = func.count(distinct(matching.c.enrolment_id))
        having = [count >= frequency.min_per_year]
        if frequency.max_per_year is not None:
            having.append(count <= frequency.max_per_year)
        return (
            select(matching.c.person_id, *columns)
            .group_by(matching.c.person_id, *columns)
            .having(and_(*having))
            .subquery()
        )

    per_group = people_meeting(names)
    keyed = [per_group.c[name] for name in names]
    rows = session.execute(
        select(*keyed, func.count(distinct(per_group.c.person_id)))
        .group_by(*keyed)
        .order_by(*keyed)
    ).all()
    groups = [
        Group(key=dict(zip(names, row[:-1], strict=True)), value=int(row[-1])) for row in rows
    ]
    overall = people_meeting(["year"])
    total = session.execute(select(func.count(distinct(overall.c.person_id)))).scalar_one()
    return groups, int(total)


def headcounts(session: Session, query: HeadcountQuery, principal: Principal) -> HeadcountResult:
    """Headcounts summed per group, from each series' latest report on or before as_of."""
    _consistent_snapshot(session)
    cutoff = head(session)
    flt = query.filter
    h = aliased(Headcount, name="h")
    ranked = (
        select(
            col(h.institution).label("institution"),
            col(h.sector).label("sector"),
            col(h.position_group).label("position_group"),
            col(h.role).label("role"),
            col(h.headcount).label("headcount"),
            func.row_number()
            .over(
                partition_by=[col(h.institution), col(h.position_group), col(h.role)],
                order_by=[col(h.as_of).desc(), col(h.seq).desc()],
            )
            .label("rank"),
        )
        .where(col(h.as_of) <= query.as_of)
        .subquery("ranked")
    )
    conditions: list[Any] = [ranked.c.rank == 1]
    if flt.roles is not None or "role" in query.group_by:
        conditions.append(ranked.c.role.is_not(None))
        if flt.roles is not None:
            conditions.append(ranked.c.role.in_(flt.roles))
        if flt.position_groups is not None:
            conditions.append(ranked.c.position_group.in_(flt.position_groups))
        elif "position_group" not in query.group_by:
            conditions.append(ranked.c.position_group.is_(None))
    else:
        conditions.append(ranked.c.role.is_(None))
        if flt.position_groups is not None or "position_group" in query.group_by:
            conditions.append(ranked.c.position_group.is_not(None))
            if flt.position_groups is not None:
                conditions.append(ranked.c.position_group.in_(flt.position_groups))
        else:
            conditions.append(ranked.c.position_group.is_(None))
    if flt.institutions is not None:
        conditions.append(ranked.c.institution.in_(flt.institutions))
    if principal.institutions is not None:
        conditions.append(ranked.c.institution.in_(sorted(principal.institutions)))
    if flt.sectors is not None:
        conditions.append(ranked.c.sector.in_(flt.sectors))
    total_value = func.coalesce(func.sum(ranked.c.headcount), 0)
    groups: list[Group] = []
    if query.group_by:
        keyed = [ranked.c[name] for name in query.group_by]
        rows = session.execute(
            select(*keyed, total_value).where(*conditions).group_by(*keyed).order_by(*keyed)
        ).all()
        groups = [
            Group(key=dict(zip(query.group_by, row[:-1], strict=True)), value=int(row[-1]))
            for row in rows
        ]
    total = int(session.execute(select(total_value).where(*conditions)).scalar_one())
    return HeadcountResult(groups=groups, total=total, as_of=query.as_of, cutoff_seq=cutoff)


def _consistent_snapshot(session: Session) -> None:
    # On PostgreSQL every statement of the answer (and cutoff_seq) sees one snapshot.
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.in_nested_transaction():
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
