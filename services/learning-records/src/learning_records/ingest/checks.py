"""Codes of written items checked against the catalog copy: rejected, or stored with a flag.

An unknown code of an enumeration (role, position group, management level, leaving reason,
framework, competency, a level outside the framework's scale) or an unknown institution rejects
the item, naming the valid values. An unknown course is not a rejection: the item is stored,
flagged, and not counted until the catalog gains the course (GET
/v1/data-quality/unknown-courses lists it).
"""

from __future__ import annotations

from learning_records.ingest.schemas import (
    AssessmentWrite,
    CourseTagWrite,
    EmploymentWrite,
    HeadcountWrite,
    ItemBase,
)
from learning_records.reference.service import (
    LEAVING_REASONS,
    MANAGEMENT_LEVELS,
    POSITION_GROUPS,
    ROLES,
    ReferenceCodes,
)


def _first(*reasons: str | None) -> str | None:
    return next((reason for reason in reasons if reason is not None), None)


def check_codes(item: ItemBase, codes: ReferenceCodes) -> tuple[str | None, str | None]:
    """(why the item is rejected, or None; the flag it is stored with, or None)."""
    if isinstance(item, EmploymentWrite):
        return _first(
            codes.check_institution("institution", item.institution),
            codes.check_list("position_group", POSITION_GROUPS, item.position_group),
            codes.check_list("management_level", MANAGEMENT_LEVELS, item.management_level),
            codes.check_list("leaving_reason", LEAVING_REASONS, item.leaving_reason),
            *[
                codes.check_list(f"roles.{n}.role", ROLES, role.role)
                for n, role in enumerate(item.roles)
            ],
        ), None
    if isinstance(item, HeadcountWrite):
        return _first(
            codes.check_institution("institution", item.institution),
            codes.check_list("position_group", POSITION_GROUPS, item.position_group),
            codes.check_list("role", ROLES, item.role),
        ), None
    problem = codes.check_institution("institution", getattr(item, "institution", None))
    if problem is None and isinstance(item, AssessmentWrite):
        problem = codes.check_assessment(item.framework, item.competency, item.level)
    return problem, _course_flag(item, codes)


def _course_flag(item: ItemBase, codes: ReferenceCodes) -> str | None:
    """The flag an item naming a course the catalog lacks is stored with (None: no flag)."""
    course = getattr(item, "course_code", None)
    if course is None or isinstance(item, CourseTagWrite) or not codes.course_unknown(course):
        return None
    return (
        f"course_not_in_catalog: {course!r} is not in the catalog; stored, and counted "
        "once the catalog has it"
    )


class BatchCodeCheck:
    """check_codes over a batch, each distinct institution and each distinct course checked once.

    Most kinds' codes are just an institution and a course, checked independently: a
    10,000-item batch names a few thousand institutions and a few dozen courses. (Keyed by the
    pair, nearly every item of a batch over 2,000 institutions was a new pair.) Items with more
    codes (employment, headcounts, assessments) are checked one by one.
    """

    def __init__(self, codes: ReferenceCodes) -> None:
        self.codes = codes
        self._institutions: dict[str | None, str | None] = {}
        self._courses: dict[tuple[type, str | None], str | None] = {}

    def __call__(self, item: ItemBase) -> tuple[str | None, str | None]:
        """(why the item is rejected, or None; the flag it is stored with, or None)."""
        if isinstance(item, EmploymentWrite | HeadcountWrite | AssessmentWrite):
            return check_codes(item, self.codes)
        institution = getattr(item, "institution", None)
        try:
            problem = self._institutions[institution]
        except KeyError:
            problem = self.codes.check_institution("institution", institution)
            self._institutions[institution] = problem
        key = (type(item), getattr(item, "course_code", None))
        try:
            flag = self._courses[key]
        except KeyError:
            flag = self._courses[key] = _course_flag(item, self.codes)
        return problem, flag
