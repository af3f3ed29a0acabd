"""Institution scoping in SQL: the one rule for which people and records a client may see.

A restricted client (its token names institutions) reads and changes only records whose
institution is one of its own. A person is visible to it only through such records of that
person (its employment, its enrolments…), and then it sees only those records: never another
institution's, and never because it wrote an employment of its own. Records without an
institution (written by unrestricted sources that did not name one) are visible only to
unrestricted clients.

Every query over personal-data tables in this service's reads goes through these helpers;
tests/people/test_access_lint.py walks the source and fails on one that does not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlmodel import col

from learning_records.employment.models import Employment, Headcount, RoleAssignment
from learning_records.enrolments.models import Enrolment
from learning_records.people.models import PersonLink
from learning_records.results.models import (
    Certificate,
    CompetencyAssessment,
    Feedback,
    TestAttempt,
)
from pilnveide_kit.auth import Principal

#: Tables of records about a person that carry the institution they belong to.
PERSON_RECORD_TABLES: tuple[Any, ...] = (
    Employment,
    Enrolment,
    TestAttempt,
    Certificate,
    Feedback,
    CompetencyAssessment,
    PersonLink,
)
#: Every table whose rows belong to an institution (the person tables and headcounts).
INSTITUTION_TABLES: tuple[Any, ...] = (*PERSON_RECORD_TABLES, Headcount)


def institution_visible(principal: Principal, institution: Any) -> ColumnElement[bool]:
    """True where an institution column names one of the client's institutions (or any)."""
    if principal.institutions is None:
        return true()
    if not principal.institutions:
        return false()
    return col(institution).in_(sorted(principal.institutions))


def record_visible(principal: Principal, table: Any) -> ColumnElement[bool]:
    """True for a row of a table with an institution column that belongs to the client."""
    return institution_visible(principal, table.institution)


def role_visible(principal: Principal, role: Any = RoleAssignment) -> ColumnElement[bool]:
    """True for a role held during an employment the client may see."""
    if principal.institutions is None:
        return true()
    return exists(
        select(col(Employment.id)).where(
            col(Employment.id) == role.employment_id, record_visible(principal, Employment)
        )
    )


def person_visible(principal: Principal, person_id: Any) -> ColumnElement[bool]:
    """True for a person of whom the client holds at least one record of its own institutions."""
    if principal.institutions is None:
        return true()
    if not principal.institutions:
        return false()
    return or_(
        *[
            exists(
                select(col(table.id)).where(
                    table.person_id == person_id, record_visible(principal, table)
                )
            )
            for table in PERSON_RECORD_TABLES
        ]
    )
