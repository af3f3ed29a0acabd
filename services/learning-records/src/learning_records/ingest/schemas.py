"""The items partners write, one pydantic model per kind, and the per-item outcome they get."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from learning_records.enrolments.models import STATUSES
from learning_records.results.models import ASSESSMENT_METHODS, FEEDBACK_KINDS

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9ĀČĒĢĪĶĻŅŠŪŽāčēģīķļņšūž._:/\-]+$")
Sector = Literal["state", "municipal"]
ManagementLevel = Literal["top", "middle", "lower", "none"]
EnrolmentStatus = Literal["registered", "attended", "no_show", "cancelled", "completed", "failed"]
assert set(EnrolmentStatus.__args__) == set(STATUSES)  # type: ignore[attr-defined]
AssessmentMethod = Literal["self", "manager", "360", "assessment_centre"]
assert set(AssessmentMethod.__args__) == set(ASSESSMENT_METHODS)  # type: ignore[attr-defined]
FeedbackKind = Literal["immediate", "follow_up"]
assert set(FeedbackKind.__args__) == set(FEEDBACK_KINDS)  # type: ignore[attr-defined]

#: Fields naming the person; replaced by the person's id before anything is stored or hashed.
PERSON_FIELDS: set[str] = {
    "personal_code",
    "pseudonym",
    "person_source_system",
    "person_external_id",
}
#: Fields that identify or steer an item rather than describe it.
CONTROL_FIELDS: set[str] = {"source_system", "external_id", "update"}


class ItemBase(BaseModel):
    """Every item: its source id, and whether it deliberately replaces an earlier version."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source_system: str = Field(min_length=1, max_length=64, description="e.g. `mps`, `horizon-vk`")
    external_id: str = Field(min_length=1, max_length=128, description="The item's id there")
    update: bool = Field(
        default=False,
        description="Replace the stored version of this source id (otherwise a difference is a "
        "conflict)",
    )


class PersonItem(ItemBase):
    """Names a person by exactly one of: personal code, pseudonym, or a person source id."""

    personal_code: str | None = Field(
        default=None,
        max_length=20,
        description="Latvian personal code (DDMMYY-NNNNN or 32xxxx-xxxxx); pseudonymised, "
        "never stored",
    )
    pseudonym: str | None = Field(default=None, max_length=64)
    person_source_system: str | None = Field(default=None, max_length=64)
    person_external_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_person_reference(self) -> PersonItem:
        given = [
            self.personal_code is not None,
            self.pseudonym is not None,
            self.person_source_system is not None or self.person_external_id is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                "name the person by exactly one of personal_code, pseudonym, or "
                "person_source_system + person_external_id"
            )
        if given[2] and not (self.person_source_system and self.person_external_id):
            raise ValueError("person_source_system and person_external_id go together")
        return self


class PersonWrite(PersonItem):
    """A person as an HR or learning system knows them (its own id for the person)."""

    institution: str | None = Field(
        default=None,
        max_length=32,
        description="The institution whose system holds this id (required for a client limited "
        "to some institutions); only its clients see or change the link and its display name",
    )
    display_name: str | None = Field(
        default=None, max_length=200, description="Only when the HR pull needs it"
    )

    @model_validator(mode="after")
    def _by_code_or_pseudonym(self) -> PersonWrite:
        if self.person_source_system is not None:
            raise ValueError("a person is written with personal_code or pseudonym")
        return self


class RoleWrite(BaseModel):
    """A role held during an employment (defaults to the employment's dates)."""

    model_config = ConfigDict(extra="forbid")

    role: str = Code
    valid_from: date | None = None
    valid_to: date | None = None


class EmploymentWrite(PersonItem):
    """A dated employment: institution, sector, position group, management level, roles."""

    institution: str = Code
    sector: Sector
    municipality: str | None = Field(default=None, max_length=32)
    position_group: str | None = Field(default=None, max_length=64)
    management_level: ManagementLevel | None = None
    civil_servant: bool = False
    valid_from: date
    valid_to: date | None = None
    leaving_reason: str | None = Field(
        default=None,
        max_length=64,
        description="Why the person left at valid_to: a code of the catalog's "
        "`leaving_reasons` list (GET /catalog/v1/reference/leaving_reasons)",
    )
    roles: list[RoleWrite] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _dates_in_order(self) -> EmploymentWrite:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.leaving_reason is not None and self.valid_to is None:
            raise ValueError("a leaving_reason needs the valid_to the person left on")
        for role in self.roles:
            start, end = role.valid_from or self.valid_from, role.valid_to or self.valid_to
            if end is not None and end < start:
                raise ValueError(f"the role {role.role} ends before it starts")
        return self


class HeadcountWrite(ItemBase):
    """How many people an institution employs (in a position group or role) on a date."""

    institution: str = Code
    sector: Sector
    position_group: str | None = Field(default=None, max_length=64)
    role: str | None = Field(default=None, max_length=64)
    as_of: date
    headcount: int = Field(ge=0, le=1_000_000)


class EnrolmentWrite(PersonItem):
    """An enrolment and its current status (the completion date once completed)."""

    course_code: str = Code
    session_code: str | None = Field(default=None, max_length=64)
    institution: str | None = Field(default=None, max_length=32)
    status: EnrolmentStatus
    enrolled_on: date | None = None
    status_date: date | None = Field(
        default=None,
        description="Date of the current status; defaults to completed_on or enrolled_on",
    )
    completed_on: date | None = None
    hours: float | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _status_dates(self) -> EnrolmentWrite:
        # Runs for every item of a bulk batch: the fields are set in __dict__ and marked as set,
        # which is what assignment does here (no validate_assignment), without its overhead.
        values, fields_set = self.__dict__, self.__pydantic_fields_set__
        if self.completed_on is not None and self.status != "completed":
            raise ValueError("completed_on is only for a completed enrolment")
        if self.status == "completed":
            values["completed_on"] = values["status_date"] = self.completed_on or self.status_date
            fields_set.update(("completed_on", "status_date"))
        values["status_date"] = self.status_date or self.enrolled_on
        fields_set.add("status_date")
        if self.status_date is None:
            raise ValueError("give status_date (or enrolled_on, or completed_on when completed)")
        if self.enrolled_on is not None and self.status_date < self.enrolled_on:
            raise ValueError("the status date is before the enrolment date")
        return self


class TestAttemptWrite(PersonItem):
    """One knowledge-test attempt."""

    __test__ = False  # not a pytest test class

    course_code: str = Code
    institution: str | None = Field(default=None, max_length=32)
    attempted_on: date
    score: float | None = Field(default=None, ge=0)
    max_score: float | None = Field(default=None, gt=0)
    passed: bool


class CertificateWrite(PersonItem):
    """A certificate for a course: issued, valid until, revoked."""

    course_code: str = Code
    institution: str | None = Field(default=None, max_length=32)
    certificate_number: str | None = Field(default=None, max_length=64)
    issued_on: date
    valid_until: date | None = None
    revoked_on: date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> CertificateWrite:
        if self.valid_until is not None and self.valid_until < self.issued_on:
            raise ValueError("valid_until is before issued_on")
        return self


class FeedbackWrite(PersonItem):
    """Immediate feedback, or the 6–12-month follow-up on use at work."""

    course_code: str = Code
    institution: str | None = Field(default=None, max_length=32)
    kind: FeedbackKind
    submitted_on: date
    rating: int | None = Field(default=None, ge=1, le=5)
    applied_at_work: bool | None = None
    applied_share: int | None = Field(default=None, ge=0, le=100)


class AssessmentWrite(PersonItem):
    """A competency assessment: framework, competency, level, method, date."""

    institution: str | None = Field(default=None, max_length=32)
    framework: str = Code
    competency: str = Code
    level: int = Field(ge=0, le=10)
    method: AssessmentMethod
    assessed_on: date


class CourseTagWrite(ItemBase):
    """A course's programme tag, e.g. `measure:1.1` (lets aggregations filter by tag)."""

    course_code: str = Code
    tag: str = Code


OutcomeStatus = Literal["accepted", "unchanged", "rejected", "conflict"]


class ItemOutcome(BaseModel):
    """What happened to one item of a write: its index in the request, status, reason, id."""

    index: int
    status: OutcomeStatus
    reason: str | None = None
    id: int | None = None
    #: A stored item's flag, e.g. `course_not_in_catalog: …` (stored, not counted yet).
    warning: str | None = None


class WriteReport(BaseModel):
    """The per-item outcomes of a write, with counts; nothing is left out silently."""

    kind: str
    counts: dict[str, int]
    items: list[ItemOutcome]
    last_seq: int = Field(description="The change-feed sequence after this write")
