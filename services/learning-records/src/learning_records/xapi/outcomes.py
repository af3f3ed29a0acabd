"""Mapping outcome reports under /v1/xapi: which statements became learning records, and why not.

A reader sees the statements of the partitions it sees (xapi/access.py); `client_id` narrows
the report to one writing client's statements (an LMS reads its own report this way).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, and_, func, select
from sqlmodel import Field, SQLModel

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.mapping import ERROR, IGNORED, MAPPED, REJECTED, REVERTED, UNMAPPED
from learning_records.xapi.models import XapiStatement
from learning_records.xapi.statements import as_utc
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.pagination import Page, PageParams, count_of, make_page, page_params

S = XapiStatement.__table__  # type: ignore[attr-defined]

router = APIRouter(prefix="/v1/xapi", tags=["xAPI mapping"])

#: Every outcome a stored statement can have.
OUTCOMES = (MAPPED, UNMAPPED, REJECTED, ERROR, REVERTED, IGNORED)
Outcome = Literal["mapped", "unmapped", "rejected", "error", "reverted", "ignored"]
#: Most distinct reasons a summary lists.
REASONS_SHOWN = 50

ClientFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Only the statements this API client wrote (e.g. your own client id)",
    ),
]


class StatementMappingPublic(SQLModel):
    """A stored statement's mapping outcome (no personal data: the actor is not shown)."""

    statement_id: str
    stored: datetime
    client_id: str = Field(description="The API client that wrote the statement")
    verb_id: str
    object_type: str
    object_id: str | None
    mapping_status: str
    mapping_detail: str | None
    voided: bool


class ReasonCount(SQLModel):
    """How many statements share one outcome and reason."""

    mapping_status: str
    mapping_detail: str | None
    statements: int


class OutcomeSummary(SQLModel):
    """How many statements have each outcome (every outcome listed, 0 included)."""

    client_id: str | None = Field(description="The client the report is limited to, if any")
    total: int
    counts: dict[str, int] = Field(description="Statements per outcome")
    reasons: list[ReasonCount] = Field(
        description=f"The most frequent reasons of unmapped, rejected and error outcomes "
        f"(at most {REASONS_SHOWN}, most frequent first)"
    )


def _scope(principal: Principal, client_id: str | None, session: SessionDep) -> ColumnElement[bool]:
    access = XapiAccess(session, principal.institutions)
    condition = access.visible(S.c.partition)
    if client_id is not None:
        condition = and_(condition, S.c.client_id == client_id)
    return condition


@router.get(
    "/statements/outcomes",
    response_model=Page[StatementMappingPublic],
    summary="List statements by mapping outcome",
)
def list_statement_outcomes(
    session: SessionDep,
    principal: Annotated[Principal, require("xapi:read")],
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        Outcome,
        Query(description="Which outcome to list (required: there is no default)"),
    ],
    client_id: ClientFilter = None,
) -> Page[StatementMappingPublic]:
    """Statements with one mapping outcome, oldest first (keyset-paged); a restricted client
    sees only the statements of its institutions' partitions. `client_id` limits the list to one
    writing client's statements."""
    query = select(
        S.c.seq,
        S.c.statement_id,
        S.c.stored,
        S.c.client_id,
        S.c.verb_id,
        S.c.object_type,
        S.c.object_key,
        S.c.mapping_status,
        S.c.mapping_detail,
        S.c.voided,
    ).where(S.c.mapping_status == status, _scope(principal, client_id, session))
    total = count_of(session, query)
    if (after_seq := page.after_int("seq")) is not None:
        query = query.where(S.c.seq > after_seq)
    rows = session.execute(query.order_by(S.c.seq).limit(page.limit + 1)).all()
    items = [
        (
            row.seq,
            StatementMappingPublic(
                statement_id=row.statement_id,
                stored=as_utc(row.stored),
                client_id=row.client_id,
                verb_id=row.verb_id,
                object_type=row.object_type,
                object_id=row.object_key
                if row.object_type in ("Activity", "StatementRef")
                else None,
                mapping_status=row.mapping_status,
                mapping_detail=row.mapping_detail,
                voided=bool(row.voided),
            ),
        )
        for row in rows
    ]
    built = make_page(items, page.limit, key=lambda item: {"seq": item[0]}, count=total)
    return Page[StatementMappingPublic](
        data=[item for _, item in built.data], count=total, next_cursor=built.next_cursor
    )


@router.get(
    "/statements/outcomes/summary",
    response_model=OutcomeSummary,
    summary="Count statements per mapping outcome",
)
def summarise_statement_outcomes(
    session: SessionDep,
    principal: Annotated[Principal, require("xapi:read")],
    client_id: ClientFilter = None,
) -> OutcomeSummary:
    """How many of the statements the caller sees (of one writing client with `client_id`)
    have each outcome, and the most frequent reasons statements did not map."""
    scope = _scope(principal, client_id, session)
    counts = dict.fromkeys(OUTCOMES, 0)
    for status, count in session.execute(
        select(S.c.mapping_status, func.count()).where(scope).group_by(S.c.mapping_status)
    ).all():
        counts[status] = counts.get(status, 0) + int(count)
    number = func.count().label("statements")
    reasons = session.execute(
        select(S.c.mapping_status, S.c.mapping_detail, number)
        .where(scope, S.c.mapping_status.in_([UNMAPPED, REJECTED, ERROR]))
        .group_by(S.c.mapping_status, S.c.mapping_detail)
        .order_by(number.desc(), S.c.mapping_status, S.c.mapping_detail)
        .limit(REASONS_SHOWN)
    ).all()
    return OutcomeSummary(
        client_id=client_id,
        total=sum(counts.values()),
        counts=counts,
        reasons=[
            ReasonCount(mapping_status=r[0], mapping_detail=r[1], statements=int(r[2]))
            for r in reasons
        ],
    )
