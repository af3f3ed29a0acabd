"""What each kind of write stores: its item model, its table and how an item becomes a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import TypeAdapter

from learning_records.employment.models import Employment, Headcount
from learning_records.enrolments.models import CourseTag, Enrolment
from learning_records.ingest.schemas import (
    CONTROL_FIELDS,
    PERSON_FIELDS,
    AssessmentWrite,
    CertificateWrite,
    CourseTagWrite,
    EmploymentWrite,
    EnrolmentWrite,
    FeedbackWrite,
    HeadcountWrite,
    ItemBase,
    PersonWrite,
    TestAttemptWrite,
)
from learning_records.models import SourcedRecord
from learning_records.people.models import PersonLink
from learning_records.results.models import (
    Certificate,
    CompetencyAssessment,
    Feedback,
    TestAttempt,
)

PersonRule = Literal["none", "create", "existing"]


@dataclass(frozen=True)
class Kind:
    """One kind of record partners write in bulk."""

    #: Path segment and name in reports (`enrolments`).
    name: str
    #: Entity name in the change feed (`enrolment`).
    entity: str
    item: type[ItemBase]
    table: type[SourcedRecord]
    #: Whether items name a person, and whether an unknown personal code creates one.
    person: PersonRule
    #: CSV column names for list-valued fields (values separated by '|').
    csv_lists: tuple[str, ...] = ()

    @cached_property
    def columns(self) -> set[str]:
        """Table columns an item's content fills."""
        fields = set(self.item.model_fields) - PERSON_FIELDS - CONTROL_FIELDS
        return fields & set(self.table.model_fields)

    @cached_property
    def list_adapter(self) -> TypeAdapter[list[ItemBase]]:
        """Validates a whole list of items in one call."""
        return TypeAdapter(list[self.item])  # type: ignore[name-defined]

    @cached_property
    def has_institution(self) -> bool:
        """Whether items and rows carry an institution (checked against restricted clients)."""
        return "institution" in self.table.model_fields


def _roles_csv(value: str) -> list[dict[str, str]]:
    return [{"role": role.strip()} for role in value.split("|") if role.strip()]


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("people", "person_link", PersonWrite, PersonLink, "create"),
        Kind("employment", "employment", EmploymentWrite, Employment, "create", ("roles",)),
        Kind("headcounts", "headcount", HeadcountWrite, Headcount, "none"),
        Kind("enrolments", "enrolment", EnrolmentWrite, Enrolment, "create"),
        Kind("results", "test_attempt", TestAttemptWrite, TestAttempt, "create"),
        Kind("certificates", "certificate", CertificateWrite, Certificate, "create"),
        Kind("feedback", "feedback", FeedbackWrite, Feedback, "create"),
        Kind("course-tags", "course_tag", CourseTagWrite, CourseTag, "none"),
        Kind(
            "assessments", "competency_assessment", AssessmentWrite, CompetencyAssessment, "create"
        ),
    )
}

CSV_LIST_PARSERS: dict[str, Callable[[str], list[dict[str, str]]]] = {"roles": _roles_csv}
