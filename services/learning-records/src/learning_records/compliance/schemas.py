"""Compliance as served: mandatory learning per person, and certificates near their end."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

ComplianceStatus = Literal["met", "due", "missing"]
CertificateStatus = Literal["expired", "expiring"]


class Obligation(BaseModel):
    """One mandatory learning rule applied to one person's current employment."""

    pseudonym: str
    #: The person's id in the institution's HR system (where it pushed the link).
    source_system: str | None
    external_id: str | None
    institution: str
    position_group: str | None
    rule: str
    rule_title: str | None
    courses: list[str]
    #: The day the obligation started (employment or role start) on or after effective_from.
    started_on: date
    #: The day it must be met by: started_on + the rule's period (started_on without one).
    due_on: date
    #: met: completed; due: not yet, still inside the period; missing: past due_on.
    status: ComplianceStatus
    #: Missing since (= due_on) when missing; null otherwise.
    missing_since: date | None
    completed_course: str | None
    completed_on: date | None


class RuleSummary(BaseModel):
    """How many people one rule applies to, and how many meet it."""

    rule: str
    applies: int
    met: int
    due: int
    missing: int


class PersonCompliance(BaseModel):
    """A person's mandatory learning."""

    pseudonym: str
    as_of: date
    obligations: list[Obligation]


class InstitutionCompliance(BaseModel):
    """An institution's mandatory learning: who is missing what since when."""

    institution: str
    as_of: date
    obligations: list[Obligation]
    summary: list[RuleSummary]


class ExpiringCertificate(BaseModel):
    """A certificate that has expired or expires within the window (and was not renewed)."""

    pseudonym: str
    source_system: str | None
    external_id: str | None
    institution: str
    course_code: str
    course_title: str | None
    certificate_number: str | None
    issued_on: date
    valid_until: date
    days_left: int
    status: CertificateStatus


class ExpiringCertificates(BaseModel):
    """Certificates expired or expiring within `within_days` of `as_of`."""

    institution: str
    as_of: date
    within_days: int
    certificates: list[ExpiringCertificate]
