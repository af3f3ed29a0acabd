"""An enrolment's status history: superseded steps in `enrolment_status_change`, the current
step in the `enrolment` row itself (since rec0009; issue #16).

A person's status timeline of an enrolment is its history rows in `seq` order, then the
enrolment's own (status, status_date) unless the latest row already holds that status. The
latest row holds the current status once the enrolment's status_date has moved without its
status changing (e.g. a second "attended" event): the row keeps the date the status was
reached, as the timeline always showed it, and the enrolment row the moved date.

Writers keep that so (`record_stored_steps` before an enrolment's status or status_date
changes, or the same rule in memory for a batch of events): a new enrolment writes no history
row, a change writes at most the step it leaves. `timelines` (person history) and
`count_steps` (erasure and retention counts) read it back; "was ever completed" (HR pull) needs
no current step: it asks only about enrolments that are not completed now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from learning_records.bulk import in_values
from learning_records.enrolments.models import Enrolment, EnrolmentStatusChange
from learning_records.people.service import chunks


def leaves_step(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a change from `before` to `after` (each with status and status_date) leaves the
    current step, which then has to be written to the history first."""
    return bool(
        before.get("status") != after.get("status")
        or before.get("status_date") != after.get("status_date")
    )


def current_step_unrecorded(enrolment: Any = Enrolment) -> Any:
    """SQL: the enrolment's current status is not its latest history row's (the usual case)."""
    latest = aliased(EnrolmentStatusChange)
    later = aliased(EnrolmentStatusChange)
    return ~exists(
        select(col(latest.id)).where(
            col(latest.enrolment_id) == enrolment.id,
            col(latest.status) == enrolment.status,
            ~exists(
                select(col(later.id)).where(
                    col(later.enrolment_id) == col(latest.enrolment_id),
                    or_(
                        col(later.seq) > col(latest.seq),
                        and_(col(later.seq) == col(latest.seq), col(later.id) > col(latest.id)),
                    ),
                )
            ),
        )
    )


def record_stored_steps(session: Session, enrolment_ids: list[int]) -> None:
    """Write the stored current step of these enrolments into their history (unless already
    there), with its seq: call it before their status or status_date is changed."""
    e = Enrolment
    for part in chunks(sorted(set(enrolment_ids))):
        steps = select(col(e.id), col(e.status), col(e.status_date), col(e.seq)).where(
            in_values(session, col(e.id), part), current_step_unrecorded()
        )
        session.execute(
            insert(EnrolmentStatusChange).from_select(
                ["enrolment_id", "status", "status_date", "seq"], steps
            )
        )


def timelines(
    session: Session, enrolments: Iterable[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """Each enrolment's status steps (status, status_date), oldest first, by enrolment id."""
    current = {int(e["id"]): e for e in enrolments}
    steps: dict[int, list[dict[str, Any]]] = {i: [] for i in current}
    for part in chunks(sorted(current)):
        rows = session.execute(
            select(
                col(EnrolmentStatusChange.enrolment_id),
                col(EnrolmentStatusChange.status),
                col(EnrolmentStatusChange.status_date),
            )
            .where(in_values(session, col(EnrolmentStatusChange.enrolment_id), part))
            .order_by(col(EnrolmentStatusChange.seq), col(EnrolmentStatusChange.id))
        ).all()
        for enrolment_id, status, day in rows:
            steps[enrolment_id].append({"status": status, "status_date": day})
    for enrolment_id, enrolment in current.items():
        known = steps[enrolment_id]
        if not known or known[-1]["status"] != enrolment["status"]:
            known.append({"status": enrolment["status"], "status_date": enrolment["status_date"]})
    return steps


def count_steps(session: Session, enrolment_ids: Any) -> int:
    """How many status steps the enrolments selected by enrolment_ids (a subquery of ids)
    have: their history rows plus the current steps held only by the enrolment rows."""
    rows = session.execute(
        select(func.count())
        .select_from(EnrolmentStatusChange)
        .where(col(EnrolmentStatusChange.enrolment_id).in_(enrolment_ids))
    ).scalar_one()
    current = session.execute(
        select(func.count())
        .select_from(Enrolment)
        .where(col(Enrolment.id).in_(enrolment_ids), current_step_unrecorded())
    ).scalar_one()
    return int(rows) + int(current)
