"""The change feed for incremental sync: every accepted write, in order, without gaps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from learning_records.changes.service import changes_after, head, visible_changes_after
from learning_records.models import as_utc
from pilnveide_contracts.records import ChangePublic, ChangesPage, FeedHead
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_BIGINT

router = APIRouter(prefix="/v1/changes", tags=["changes"])


@router.get("", response_model=ChangesPage, summary="Changes after a sequence number")
def list_changes(
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="Last sequence number already seen")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> ChangesPage:
    """Changes with a sequence number above `after`, in order (ids only, no personal data).

    A client limited to some institutions sees only the changes that produced the current
    version of its institutions' records; other institutions' entries, superseded versions,
    deletions and erasures are not listed to it.
    """
    if principal.restricted:
        last = head(session)
        rows = visible_changes_after(session, principal, after, last, limit)
        # Nothing visible up to `last` beyond these rows: the next page starts after them.
        next_after = rows[-1].seq if len(rows) == limit else max(after, last)
    else:
        rows = changes_after(session, after, limit)
        last = head(session)
        next_after = rows[-1].seq if rows else after
    data = [
        ChangePublic(seq=r.seq, entity=r.entity, op=r.op, key=r.key, at=as_utc(r.at)) for r in rows
    ]
    return ChangesPage(data=data, next_after=next_after, last_seq=last)


@router.get("/head", response_model=FeedHead, summary="The feed's last sequence number")
def changes_head(
    session: SessionDep, _principal: Annotated[Principal, require("records:read")]
) -> FeedHead:
    """The last sequence number, so a consumer can tell cheaply whether its copy is stale."""
    return FeedHead(last_seq=head(session))
