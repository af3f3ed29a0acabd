"""`GET /admin/audit`: the audit log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import col, select

from gateway.audit.models import AuditEntry, AuditEntryPublic, SignedIn
from gateway.audit.writer import AuditWriter
from gateway.clients.router import unrestricted_admin
from gateway.models import as_utc
from gateway.oidc.models import OidcSignIn
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

router = APIRouter(prefix="/admin/audit", tags=["admin"])


async def _stored(request: Request) -> None:
    # Entries still waiting in this process are stored first: the log read is complete.
    writer: AuditWriter | None = getattr(request.app.state, "audit_writer", None)
    if writer is not None:
        await writer.flush()


@router.get(
    "",
    response_model=Page[AuditEntryPublic],
    summary="Read the audit log",
    dependencies=[Depends(_stored)],
)
def list_audit_entries(
    session: SessionDep,
    _admin: Annotated[Principal, unrestricted_admin()],
    page: Annotated[PageParams, Depends(page_params)],
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[
        str | None,
        Query(
            max_length=255,
            description="Only the requests made with tokens a person got by signing in through "
            "an identity provider with this subject",
        ),
    ] = None,
) -> Page[AuditEntryPublic]:
    """Audited requests (writes and personal-data reads), newest first, optionally of one client
    or of one signed-in person. An entry made with a token from a sign-in names the person
    (`signed_in`: provider and subject), not only the browser app's client. Entries this
    gateway process still holds are stored first; another instance's reach the log within its
    GATEWAY_AUDIT_FLUSH_INTERVAL_S."""
    query = select(AuditEntry, OidcSignIn).join(
        OidcSignIn, col(OidcSignIn.token_id) == col(AuditEntry.token_id), isouter=True
    )
    if client_id is not None:
        query = query.where(col(AuditEntry.client_id) == client_id)
    if subject is not None:
        query = query.where(col(OidcSignIn.subject) == subject)
    total = count_of(session, query)
    if (after := page.after_int("id")) is not None:
        query = query.where(col(AuditEntry.id) < after)
    query = query.order_by(col(AuditEntry.id).desc()).limit(page.limit + 1)
    rows = [
        AuditEntryPublic(
            id=int(row.id or 0),
            at=as_utc(row.at),
            client_id=row.client_id,
            method=row.method,
            path=row.path,
            status=row.status,
            request_id=row.request_id,
            token_id=row.token_id,
            signed_in=None
            if sign_in is None
            else SignedIn(provider=sign_in.provider, subject=sign_in.subject),
        )
        for row, sign_in in session.exec(query)
    ]
    return make_page(rows, page.limit, key=lambda e: {"id": e.id}, count=total)
