"""Erasure of a person and deletion of old records: the data-protection officer's scope.

`records:erase` is held only by unrestricted clients (the gateway refuses to create or issue a
restricted client with it); a restricted token that carries it anyway, or an admin token of a
restricted client, is refused here with 403. No writer can erase: erasure removes every
institution's records of the person, so it is not an institution's decision.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from learning_records.people.pseudonyms import InvalidPersonalCode, pseudonymise
from learning_records.privacy.service import delete_older_than, erase_person, find_person
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import Forbidden, UnprocessableContent

router = APIRouter(prefix="/v1/privacy", tags=["data protection"])


class ErasureNeedsUnrestrictedClient(Forbidden):
    """records:erase acts on every institution's records: a restricted client cannot use it."""

    slug = "erasure-needs-unrestricted-client"


def data_protection_officer(
    principal: Annotated[Principal, require("records:erase")],
) -> Principal:
    """The caller, if it holds records:erase and is not limited to some institutions."""
    if principal.restricted:
        raise ErasureNeedsUnrestrictedClient(
            "Erasure and retention remove every institution's records; only an unrestricted "
            "client with records:erase (the data-protection officer's) may run them"
        )
    return principal


EraserDep = Annotated[Principal, Depends(data_protection_officer)]


class ErasureRequest(BaseModel):
    """The person to erase, by personal code or pseudonym (in the body, never in a URL)."""

    model_config = ConfigDict(extra="forbid")

    personal_code: str | None = Field(default=None, max_length=20)
    pseudonym: str | None = Field(default=None, max_length=64)
    dry_run: bool = True

    @model_validator(mode="after")
    def _one_reference(self) -> ErasureRequest:
        if (self.personal_code is None) == (self.pseudonym is None):
            raise ValueError("give exactly one of personal_code and pseudonym")
        return self


class ErasureReport(BaseModel):
    """Rows per table about the person: to be deleted (dry run) or deleted.

    `enrolment_status_change` counts status steps as the person's history shows them (history
    rows plus each enrolment's current step, which its enrolment row holds)."""

    dry_run: bool
    rows: dict[str, int]


class RetentionRequest(BaseModel):
    """Delete records dated before this day."""

    model_config = ConfigDict(extra="forbid")

    before: date
    dry_run: bool = True


class RetentionReport(BaseModel):
    """Rows per table dated before the day: to be deleted (dry run) or deleted.

    `enrolment_status_change` counts the old enrolments' status steps (as for erasure)."""

    dry_run: bool
    before: date
    rows: dict[str, int]


class InvalidCode(UnprocessableContent):
    """The personal code is malformed."""


@router.post("/erasure", response_model=ErasureReport, summary="Erase a person")
def erase(
    body: ErasureRequest, request: Request, session: SessionDep, principal: EraserDep
) -> ErasureReport:
    """Report (dry_run, the default) or delete every record about one person, of every
    institution (unrestricted data-protection officer only)."""
    pseudonym = body.pseudonym
    if body.personal_code is not None:
        try:
            pseudonym = pseudonymise(
                body.personal_code, request.app.state.settings.pseudonym_pepper
            )
        except InvalidPersonalCode as exc:
            raise InvalidCode(f"personal_code: {exc}") from exc
    assert pseudonym is not None
    person_id = find_person(session, pseudonym, principal)
    return ErasureReport(
        dry_run=body.dry_run, rows=erase_person(session, person_id, dry_run=body.dry_run)
    )


@router.post("/retention", response_model=RetentionReport, summary="Delete old records")
def apply_retention(
    body: RetentionRequest, session: SessionDep, principal: EraserDep
) -> RetentionReport:
    """Report (dry_run, the default) or delete records dated before a day, for every institution."""
    rows = delete_older_than(session, body.before, dry_run=body.dry_run)
    return RetentionReport(dry_run=body.dry_run, before=body.before, rows=rows)
