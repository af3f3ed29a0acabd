"""`GET /admin/sign-ins`: who signed in through an identity provider, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from gateway.clients.router import unrestricted_admin
from gateway.models import as_utc
from gateway.oidc.models import OidcSignIn, OidcSignInPublic
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

router = APIRouter(prefix="/admin/sign-ins", tags=["admin"])


@router.get("", response_model=Page[OidcSignInPublic], summary="Read the sign-in log")
def list_sign_ins(
    session: SessionDep,
    _admin: Annotated[Principal, unrestricted_admin()],
    page: Annotated[PageParams, Depends(page_params)],
    provider: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=255)] = None,
) -> Page[OidcSignInPublic]:
    """Tokens issued by exchange of an identity provider's token (RFC 8693 at /auth/token),
    newest first, optionally of one provider or one subject (the provider's opaque id)."""
    query = select(OidcSignIn)
    if provider is not None:
        query = query.where(col(OidcSignIn.provider) == provider)
    if subject is not None:
        query = query.where(col(OidcSignIn.subject) == subject)
    total = count_of(session, query)
    if (after := page.after_int("id")) is not None:
        query = query.where(col(OidcSignIn.id) < after)
    query = query.order_by(col(OidcSignIn.id).desc()).limit(page.limit + 1)
    rows = [
        OidcSignInPublic(
            id=int(row.id or 0),
            at=as_utc(row.at),
            provider=row.provider,
            subject=row.subject,
            client_id=row.client_id,
            token_id=row.token_id,
            scopes=list(row.scopes),
            institutions=None if row.institutions is None else list(row.institutions),
            expires_at=as_utc(row.expires_at),
        )
        for row in session.exec(query)
    ]
    return make_page(rows, page.limit, key=lambda e: {"id": e.id}, count=total)
