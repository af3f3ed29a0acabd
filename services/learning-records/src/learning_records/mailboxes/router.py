"""Work mailboxes: an institution's HR system registers its people's addresses (hash only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from learning_records.mailboxes.schemas import MailboxRegistration, MailboxReport
from learning_records.mailboxes.service import register_mailboxes, tally
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import NotFound

router = APIRouter(prefix="/v1", tags=["people"])


class InstitutionNotFound(NotFound):
    """An institution outside the client's access (as if it did not exist)."""


WriterDep = Annotated[Principal, require("records:write")]


def own_institution(institution: Annotated[str, Path(max_length=32)], principal: WriterDep) -> str:
    """The path's institution, if the client may write for it; 404 (as if absent) otherwise.
    A dependency, so that it answers before the body is validated."""
    if not principal.can_see(institution):
        raise InstitutionNotFound(f"No institution {institution} among the client's")
    return institution


@router.post(
    "/institutions/{institution}/mailboxes",
    response_model=MailboxReport,
    summary="Register people's work e-mail addresses (stored as mbox_sha1sum only)",
)
def post_mailboxes(
    institution: Annotated[str, Depends(own_institution)],
    body: MailboxRegistration,
    request: Request,
    session: SessionDep,
    principal: WriterDep,
) -> MailboxReport:
    """Register (or, with `remove`, drop) the work mailboxes of the institution's people, so
    that xAPI statements naming the person by `mbox` or `mbox_sha1sum` map to them. Each item
    names the person (an HR id of this system, a personal code or a pseudonym) who must be
    employed at the institution; only SHA-1 of the `mailto:` IRI of the lower-cased address is
    stored. Per-item outcomes; a rejected item changes nothing, the others are applied."""
    outcomes = register_mailboxes(
        session, institution, body, principal, request.app.state.settings.pseudonym_pepper
    )
    return MailboxReport(institution=institution, counts=tally(outcomes), items=outcomes)
