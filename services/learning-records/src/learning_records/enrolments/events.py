"""Learning events: what one says, what became of it, and the enrolment state it leads to.

Shared by the one-event entry points (`service.py`) and the set-based batch (`batch.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

OutcomeStatus = Literal["accepted", "unchanged", "conflict", "rejected", "not_found"]


@dataclass(frozen=True)
class LearningEvent:
    """One learning event about a person and a course, identified by its source id.

    Name the person by exactly one of `personal_code` (validated, pseudonymised, never stored),
    `pseudonym`, or `person_source_system` + `person_external_id` (an HR id sent earlier as a
    person). `status` is an enrolment status (registered, attended, no_show, cancelled,
    completed, failed) or None for an event that only carries a result. `passed` (with an
    optional `score`) records a knowledge-test attempt. Name the enrolment with
    `enrolment_external_id` (in `enrolment_source_system`, default the event's source system);
    otherwise the person's latest enrolment in the course (and session) is used, or created.
    """

    source_system: str
    external_id: str
    course_code: str
    occurred_at: datetime
    status: str | None = None
    personal_code: str | None = field(default=None, repr=False)
    pseudonym: str | None = None
    person_source_system: str | None = None
    person_external_id: str | None = None
    session_code: str | None = None
    institution: str | None = None
    hours: float | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    enrolment_source_system: str | None = None
    enrolment_external_id: str | None = None


@dataclass(frozen=True)
class LearningEventOutcome:
    """What became of an event: accepted, unchanged (a replay), conflict, rejected, not_found."""

    status: OutcomeStatus
    reason: str | None = None
    enrolment_id: int | None = None
    event_id: int | None = None
    seq: int | None = None


STATE_FIELDS = ("status", "status_date", "completed_on", "hours")


def event_content(event: LearningEvent, person_id: int) -> dict[str, Any]:
    """What an event's content hash covers: its fields, the person by id."""
    content = {k: v for k, v in vars(event).items() if v is not None}
    for name in ("personal_code", "pseudonym", "person_source_system", "person_external_id"):
        content.pop(name, None)
    content["person_id"] = person_id
    return content


def encode_state(state: dict[str, Any]) -> dict[str, Any]:
    """An enrolment state as JSON (dates as ISO strings)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in state.items()}


def decode_state(state: dict[str, Any]) -> dict[str, Any]:
    """An enrolment state from JSON (ISO strings back to dates)."""
    out = dict(state)
    for name in ("status_date", "completed_on"):
        if isinstance(out.get(name), str):
            out[name] = date.fromisoformat(out[name])
    return out


def event_state(event: LearningEvent, prior: dict[str, Any] | None) -> dict[str, Any]:
    """The enrolment state after an event, given the state before it (None: a new enrolment)."""
    day = event.occurred_at.date()
    if prior is None:
        status = event.status or "registered"
        return {
            "status": status,
            "status_date": day,
            "completed_on": day if status == "completed" else None,
            "hours": event.hours,
        }
    state = decode_state(prior)
    if event.status is not None and day >= state["status_date"]:
        state["status"] = event.status
        state["status_date"] = day
        state["completed_on"] = day if event.status == "completed" else None
    if event.hours is not None:
        state["hours"] = event.hours
    return state
