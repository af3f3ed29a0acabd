"""From statements to learning records: which statements mean an enrolment event; applying it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlmodel import Session

from learning_records.xapi.models import XapiCourseMapping, XapiStatement
from learning_records.xapi.settings import XapiSettings
from learning_records.xapi.validation import VOIDED_VERB, parse_timestamp

S = XapiStatement.__table__  # type: ignore[attr-defined]
CM = XapiCourseMapping.__table__  # type: ignore[attr-defined]

MAPPED, UNMAPPED, ERROR, REVERTED, IGNORED = "mapped", "unmapped", "error", "reverted", "ignored"


@dataclass(frozen=True)
class LearningEvent:
    """What a statement means for learning records, before pseudonymisation of the person."""

    statement_id: str
    kind: str
    course_code: str
    #: "personal_code" or "hr_id", and the value (never stored by the LRS itself).
    person_kind: str
    person_value: str
    occurred_at: datetime
    score_raw: float | None = None
    score_scaled: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    success: bool | None = None
    completion: bool | None = None


class LearningRecordsPort(Protocol):
    """Where learning events go: the learning records' enrolments and results."""

    def apply(self, session: Session, event: LearningEvent) -> None:
        """Create or update the enrolment and results an event describes."""

    def revert(self, session: Session, event: LearningEvent) -> None:
        """Undo what apply did for the event's statement."""


class MappingRefused(Exception):
    """The learning records refused an event (unknown person, course…)."""


_port: LearningRecordsPort | None = None


def set_learning_records_port(port: LearningRecordsPort | None) -> None:
    """Install where mapped statements are applied (the learning records adapter)."""
    global _port
    _port = port


def learning_records_port() -> LearningRecordsPort | None:
    """The installed learning records adapter, if any."""
    return _port


class StatementMapper:
    """Decides each new statement's mapping outcome and applies it to the learning records."""

    def __init__(self, session: Session, settings: XapiSettings, records_settings: Any) -> None:
        self.session = session
        self.settings = settings
        self.records_settings = records_settings
        self._courses: dict[str, str | None] = {}

    def course_for(self, activity_id: str) -> str | None:
        """The catalog course code an activity id stands for, if any."""
        if activity_id not in self._courses:
            code = self.session.scalar(
                select(CM.c.course_code).where(CM.c.activity_id == activity_id)
            )
            prefix = self.settings.course_activity_prefix
            if code is None and prefix and activity_id.startswith(prefix):
                rest = activity_id[len(prefix) :].strip("/")
                code = rest or None
            self._courses[activity_id] = code
        return self._courses[activity_id]

    def event_for(self, statement: dict[str, Any]) -> LearningEvent | str:
        """The learning event a statement means, or the reason it means none."""
        verb = statement["verb"]["id"]
        kind = self.settings.verb_map.get(verb)
        if kind is None:
            return f"verb {verb} is not mapped to a learning event"
        target = statement["object"]
        if target.get("objectType", "Activity") != "Activity":
            return "the object is not an Activity"
        course = self.course_for(target["id"])
        if course is None:
            return f"activity {target['id']} is not mapped to a catalog course"
        account = statement["actor"].get("account")
        if not isinstance(account, dict):
            return "the actor has no account carrying a personal code or HR id"
        home = str(account.get("homePage", "")).rstrip("/")
        personal = {h.rstrip("/") for h in self.settings.personal_code_home_pages}
        result = statement.get("result") or {}
        score = result.get("score") or {}
        return LearningEvent(
            statement_id=statement["id"].lower(),
            kind=kind,
            course_code=course,
            person_kind="personal_code" if home in personal else "hr_id",
            person_value=str(account.get("name", "")),
            occurred_at=parse_timestamp(statement["timestamp"]),
            score_raw=score.get("raw"),
            score_scaled=score.get("scaled"),
            score_min=score.get("min"),
            score_max=score.get("max"),
            success=result.get("success"),
            completion=result.get("completion"),
        )

    def decide(self, statement: dict[str, Any]) -> tuple[str, str | None]:
        """The outcome recorded with a statement as it is stored."""
        if statement["verb"]["id"] == VOIDED_VERB:
            return IGNORED, "a voiding statement undoes its target's effect"
        event = self.event_for(statement)
        if isinstance(event, str):
            return UNMAPPED, event
        if learning_records_port() is None:
            return ERROR, "the learning records adapter is not installed"
        return MAPPED, None

    def apply(self, outcome: Any) -> None:
        """Apply new mapped statements; revert what newly voided statements had applied."""
        port = learning_records_port()
        if port is None:
            return
        for item in outcome.new:
            if item.row["mapping_status"] != MAPPED:
                continue
            event = self.event_for(item.statement)
            assert isinstance(event, LearningEvent)
            try:
                with self.session.begin_nested():
                    port.apply(self.session, event)
            except MappingRefused as exc:
                self._set(event.statement_id, ERROR, str(exc)[:500])
        if outcome.voided_ids:
            rows = self.session.execute(
                select(S.c.statement_id, S.c.payload).where(
                    S.c.statement_id.in_(outcome.voided_ids), S.c.mapping_status == MAPPED
                )
            ).all()
            import json

            for row in rows:
                event = self.event_for(json.loads(row.payload))
                if isinstance(event, LearningEvent):
                    port.revert(self.session, event)
                    self._set(row.statement_id, REVERTED, "voided")

    def _set(self, statement_id: str, status: str, detail: str | None) -> None:
        self.session.execute(
            update(S)
            .where(S.c.statement_id == statement_id)
            .values(mapping_status=status, mapping_detail=detail)
        )
