"""The change feed for incremental sync: every accepted write, in order, without gaps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from learning_records.changes.service import (
    changes_after,
    count_visible,
    head,
    visible_changes_after,
)
from learning_records.models import as_utc
from pilnveide_contracts.records import ChangePublic, ChangesPage, FeedHead
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.boundary import MAX_BIGINT
from pilnveide_kit.pagination import MAX_LIMIT, feed_cursor, feed_position

router = APIRouter(prefix="/v1/changes", tags=["changes"])


@router.get("", response_model=ChangesPage, summary="Changes after a sequence number")
def list_changes(
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="Last sequence number already seen")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")
    ] = MAX_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ChangesPage:
    """Changes with a sequence number above `after`, in order (ids only, no personal data).

    Page with `next_cursor` (null on the last page); `count` is how many changes follow the
    `after` the paging started from (the feed has no gaps: last_seq minus that, no counting;
    for a restricted client, a count of the changes it may see). A client limited to some
    institutions sees only the changes that produced the current version of its institutions'
    records; other institutions' entries, superseded versions, deletions and erasures are not
    listed to it.
    """
    start, position = feed_position(after, cursor)
    last = head(session)
    if principal.restricted:
        rows = visible_changes_after(session, principal, position, last, limit + 1)
        total = count_visible(session, principal, start, last)
    else:
        rows = changes_after(session, position, limit + 1)
        total = max(last - start, 0)
    more = len(rows) > limit
    rows = rows[:limit]
    if more:
        resume = rows[-1].seq
    elif principal.restricted:
        resume = max(position, last)  # nothing more it may see up to last
    else:
        resume = rows[-1].seq if rows else position
    data = [
        ChangePublic(seq=r.seq, entity=r.entity, op=r.op, key=r.key, at=as_utc(r.at)) for r in rows
    ]
    return ChangesPage(
        data=data,
        count=total,
        next_cursor=feed_cursor(resume, start) if more else None,
        last_seq=last,
        resume_after=resume,
    )


@router.get("/head", response_model=FeedHead, summary="The feed's last sequence number")
def changes_head(
    session: SessionDep, _principal: Annotated[Principal, require("records:read")]
) -> FeedHead:
    """The last sequence number, so a consumer can tell cheaply whether its copy is stale."""
    return FeedHead(last_seq=head(session))
