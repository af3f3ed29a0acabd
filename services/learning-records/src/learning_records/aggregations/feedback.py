"""Feedback as a source (plan 5.1.5 "Mācīšanās rezultāti un to ietekme", section 5.3).

`feedback_people` counts people who gave feedback on a course, dated by `submitted_on`, with
the person attributes and groupings of enrolments. `feedback_kinds` chooses immediate feedback
or the follow-up; `applied_at_work` the follow-up's answer; `follow_up_window` keeps feedback
given 6 to 12 months after the person learned the course (an enrolment of theirs in it with a
learned status — attended, completed, passed — dated 6 to 12 calendar months before), section
5.3's "zināšanu pārneses monitorings … 6–12 mēnešu laikā".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, cast, exists, extract, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from learning_records.enrolments.models import Enrolment
from learning_records.people.access import record_visible
from pilnveide_contracts.records import AggregationFilter
from pilnveide_kit.auth import Principal

#: Enrolment statuses after which a follow-up on use at work makes sense.
LEARNED = ("attended", "completed", "passed")
FOLLOW_UP_MONTHS = (6, 12)


def _month(day: Any) -> Any:
    return cast(extract("year", day), Integer) * 12 + cast(extract("month", day), Integer)


def feedback_conditions(flt: AggregationFilter, f: Any, principal: Principal) -> list[Any]:
    """The feedback filter keys as conditions on the feedback rows `f`."""
    conditions: list[Any] = []
    if flt.feedback_kinds is not None:
        conditions.append(col(f.kind).in_(flt.feedback_kinds))
    if flt.applied_at_work is not None:
        conditions.append(col(f.applied_at_work).is_(flt.applied_at_work))
    if flt.follow_up_window is not None:
        learned: Any = aliased(Enrolment, name="learned_e")
        months = _month(col(f.submitted_on)) - _month(col(learned.status_date))
        earliest, latest = FOLLOW_UP_MONTHS
        inside = exists(
            select(col(learned.id)).where(
                col(learned.person_id) == col(f.person_id),
                col(learned.course_code) == col(f.course_code),
                col(learned.status).in_(LEARNED),
                months >= earliest,
                months <= latest,
                record_visible(principal, learned),
            )
        )
        conditions.append(inside if flt.follow_up_window else ~inside)
    return conditions
