"""Employment as a source: people who left or joined an institution in a period.

A **leaving** is the end (`valid_to`) of an employment after which the person has no employment
in the same institution from the next day: a change of position inside the institution is not
a leaving, a move to another institution is (turnover is the institution's). A **hire** is the
start (`valid_from`) of an employment that does not continue one in the same institution from
the day before. Each is dated by that day (the period and the `year` grouping read it) and
carries the attributes of its own employment (institution, sector, position group, management
level, civil servant, the roles held that day); `employment_as_of` does not re-attribute it.

`leaving_reasons` keeps the leavings with one of the given reasons (the catalog's
`leaving_reasons` list; its `avoidable` attribute says which count as avoidable turnover);
`first_year` keeps those who left within 12 months of their first day in the institution
(the earliest start of their employments there).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, extract, func, literal, null, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from learning_records.employment.models import Employment, RoleAssignment
from learning_records.people.access import institution_visible, record_visible, role_visible
from pilnveide_contracts.records import AggregationFilter
from pilnveide_kit.auth import Principal


def attribute_conditions(flt: AggregationFilter, emp: Any) -> list[Any]:
    """The filter's conditions on an employment's attributes (sector, position group,
    management level, civil servant), for whichever employment a metric joins as `emp`."""
    conditions: list[Any] = []
    if flt.sectors is not None:
        conditions.append(col(emp.sector).in_(flt.sectors))
    if flt.position_groups is not None:
        conditions.append(col(emp.position_group).in_(flt.position_groups))
    if flt.management_levels is not None:
        conditions.append(col(emp.management_level).in_(flt.management_levels))
    if flt.civil_servant is not None:
        conditions.append(col(emp.civil_servant).is_(flt.civil_servant))
    return conditions


def _day_number(day: Any) -> Any:
    """A date as yyyymmdd, comparable across databases (a year later is exactly +10000)."""
    return (
        cast(extract("year", day), Integer) * 10000
        + cast(extract("month", day), Integer) * 100
        + cast(extract("day", day), Integer)
    )


def _shifted(day: Any, days: int, postgres: bool) -> Any:
    """A date column moved by whole days (PostgreSQL: date + integer; SQLite: date())."""
    if postgres:
        return day + literal(days)
    return func.date(day, f"{days:+d} day")


def movements(
    flt: AggregationFilter, principal: Principal, *, leavers: bool, postgres: bool
) -> Any:
    """One row per leaving (or hire) matching the filter, shaped like the enrolments' rows."""
    emp: Any = aliased(Employment, name="moved")
    other: Any = aliased(Employment, name="next_emp")
    day = col(emp.valid_to) if leavers else col(emp.valid_from)
    conditions: list[Any] = [record_visible(principal, emp)]
    if leavers:
        conditions.append(day.is_not(None))
        # The person goes on in the same institution the next day: not a leaving.
        conditions.append(
            ~exists(
                select(col(other.id)).where(
                    col(other.person_id) == col(emp.person_id),
                    col(other.institution) == col(emp.institution),
                    col(other.id) != col(emp.id),
                    col(other.valid_from) <= _shifted(day, 1, postgres),
                    or_(col(other.valid_to).is_(None), col(other.valid_to) > day),
                )
            )
        )
    else:
        conditions.append(
            ~exists(
                select(col(other.id)).where(
                    col(other.person_id) == col(emp.person_id),
                    col(other.institution) == col(emp.institution),
                    col(other.id) != col(emp.id),
                    col(other.valid_from) < day,
                    or_(
                        col(other.valid_to).is_(None),
                        col(other.valid_to) >= _shifted(day, -1, postgres),
                    ),
                )
            )
        )
    if flt.leaving_reasons is not None:
        conditions.append(col(emp.leaving_reason).in_(flt.leaving_reasons))
    if flt.first_year is not None:
        first: Any = aliased(Employment, name="first_emp")
        started = (
            select(func.min(col(first.valid_from)))
            .where(
                col(first.person_id) == col(emp.person_id),
                col(first.institution) == col(emp.institution),
                institution_visible(principal, first.institution),
            )
            .scalar_subquery()
        )
        within = _day_number(day) < _day_number(started) + 10000
        conditions.append(within if flt.first_year else ~within)
    if flt.period is not None and flt.period.from_ is not None:
        conditions.append(day >= flt.period.from_)
    if flt.period is not None and flt.period.to is not None:
        conditions.append(day <= flt.period.to)
    if flt.institutions is not None:
        conditions.append(col(emp.institution).in_(flt.institutions))
    conditions.extend(attribute_conditions(flt, emp))
    if flt.roles is not None:
        conditions.append(
            exists(
                select(col(RoleAssignment.id)).where(
                    col(RoleAssignment.employment_id) == col(emp.id),
                    col(RoleAssignment.role).in_(flt.roles),
                    col(RoleAssignment.valid_from) <= day,
                    or_(
                        col(RoleAssignment.valid_to).is_(None), col(RoleAssignment.valid_to) >= day
                    ),
                    role_visible(principal),
                )
            )
        )
    municipality = case(
        (col(emp.sector) == "municipal", func.coalesce(col(emp.municipality), col(emp.institution)))
    )
    return (
        select(
            col(emp.id).label("enrolment_id"),
            col(emp.person_id).label("person_id"),
            null().label("hours"),
            col(emp.institution).label("institution"),
            municipality.label("municipality"),
            null().label("session"),
            col(emp.position_group).label("position_group"),
            col(emp.sector).label("sector"),
            cast(extract("year", day), Integer).label("year"),
            col(emp.management_level).label("management_level"),
        )
        .where(and_(*conditions))
        .subquery("matching")
    )
