"""Status history stores the steps an enrolment left; the current step is the enrolment's own.

Every writer (bulk and single writes, learning events one by one or in a batch) and the person
history read show the same timeline the old rule (a row per step, the current one included)
gave: each status with the date it was reached.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from learning_records.enrolments.batch import apply_learning_events
from learning_records.enrolments.history import timelines
from learning_records.enrolments.models import Enrolment, EnrolmentStatusChange
from learning_records.enrolments.service import LearningEvent
from learning_records.people.pseudonyms import synthetic_personal_code
from pilnveide_kit.db import session_scope

Make = Callable[..., dict[str, object]]


def _stored(engine: Engine, course: str = "INTEG-E") -> dict[str, list[tuple[str, str, int]]]:
    """History rows (status, date, seq) by enrolment external id, in seq order."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                Enrolment.external_id,
                EnrolmentStatusChange.status,
                EnrolmentStatusChange.status_date,
                EnrolmentStatusChange.seq,
            )
            .join(Enrolment, Enrolment.id == EnrolmentStatusChange.enrolment_id)  # type: ignore[arg-type]
            .where(Enrolment.course_code == course)
            .order_by(EnrolmentStatusChange.seq)
        ).all()
    found: dict[str, list[tuple[str, str, int]]] = {}
    for external_id, status, day, seq in rows:
        found.setdefault(external_id, []).append((status, day.isoformat(), seq))
    return found


def _seq(engine: Engine, external_id: str) -> int:
    with session_scope(engine) as session:
        return int(
            session.execute(
                select(Enrolment.seq).where(Enrolment.external_id == external_id)
            ).scalar_one()
        )


def _timeline(client: TestClient, writer: dict[str, str], number: int) -> list[tuple[str, str]]:
    code = synthetic_personal_code(number)
    lookup = client.post("/v1/people/lookup", json={"personal_code": code}, headers=writer)
    history = client.get(f"/v1/people/{lookup.json()['pseudonym']}/history", headers=writer)
    [enrolment] = history.json()["enrolments"]
    return [(s["status"], s["status_date"]) for s in enrolment["status_history"]]


def _registered(make: Make, number: int, **extra: Any) -> dict[str, object]:
    fields: dict[str, Any] = {"status": "registered", "completed_on": None}
    return make(number, **{**fields, "enrolled_on": "2024-01-05", **extra})


def test_a_new_enrolment_writes_no_row_and_an_update_writes_the_step_it_leaves(
    client: TestClient, engine: Engine, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [_registered(make_enrolment, 1), _registered(make_enrolment, 2)]
    assert client.post("/v1/enrolments/bulk", json=items, headers=writer).status_code == 200
    assert _stored(engine) == {}
    created_seq = _seq(engine, "enr-1")
    completed = make_enrolment(1, enrolled_on="2024-01-05", completed_on="2024-02-01", update=True)
    answer = client.post("/v1/enrolments/bulk", json=[completed], headers=writer)
    assert answer.json()["counts"]["accepted"] == 1
    assert _stored(engine) == {"enr-1": [("registered", "2024-01-05", created_seq)]}
    assert _timeline(client, writer, 1) == [
        ("registered", "2024-01-05"),
        ("completed", "2024-02-01"),
    ]
    assert _timeline(client, writer, 2) == [("registered", "2024-01-05")]
    # A change of hours alone leaves no step.
    more_hours = {**completed, "hours": 9}
    assert client.post("/v1/enrolments", json=more_hours, headers=writer).status_code == 201
    assert len(_stored(engine)["enr-1"]) == 1


def test_a_moved_date_keeps_the_date_its_status_was_reached(
    client: TestClient, engine: Engine, writer: dict[str, str], make_enrolment: Make
) -> None:
    assert client.post("/v1/enrolments", json=_registered(make_enrolment, 1), headers=writer)
    for day in ("2024-01-10", "2024-01-12"):  # the same status, a later date: no new step
        moved = _registered(make_enrolment, 1, status_date=day, update=True)
        assert client.post("/v1/enrolments", json=moved, headers=writer).status_code == 201
        assert [r[:2] for r in _stored(engine)["enr-1"]] == [("registered", "2024-01-05")]
        assert _timeline(client, writer, 1) == [("registered", "2024-01-05")]
    completed = make_enrolment(1, enrolled_on="2024-01-05", completed_on="2024-02-01", update=True)
    assert client.post("/v1/enrolments", json=completed, headers=writer).status_code == 201
    assert len(_stored(engine)["enr-1"]) == 1  # the step left was a row already
    cancelled = _registered(make_enrolment, 1, status="cancelled", status_date="2024-03-01")
    cancelled["update"] = True
    assert client.post("/v1/enrolments", json=cancelled, headers=writer).status_code == 201
    assert [r[:2] for r in _stored(engine)["enr-1"]] == [
        ("registered", "2024-01-05"),
        ("completed", "2024-02-01"),
    ]
    assert _timeline(client, writer, 1) == [
        ("registered", "2024-01-05"),
        ("completed", "2024-02-01"),
        ("cancelled", "2024-03-01"),
    ]


def _event(source_id: str, status: str | None, day: int, course: str, **extra: Any) -> Any:
    return LearningEvent(
        source_system="lrs",
        external_id=f"{course}-{source_id}",
        course_code=course,
        occurred_at=datetime(2024, 3, day, 10, tzinfo=UTC),
        status=status,
        personal_code=synthetic_personal_code(7),
        institution="VK",
        **extra,
    )


def _story(course: str) -> list[LearningEvent]:
    return [
        _event("1", "registered", 1, course),
        _event("2", "attended", 2, course),
        _event("3", "attended", 3, course),  # the date moves, the status stays
        _event("4", None, 4, course, hours=5.0),  # hours only: no step
        _event("5", "completed", 5, course),
    ]


def test_learning_events_in_a_batch_or_one_by_one_store_the_same_steps(
    engine: Engine, pepper: str
) -> None:
    with session_scope(engine) as session:
        apply_learning_events(session, _story("MANY"), pepper=pepper)
    for event in _story("ONE"):
        with session_scope(engine) as session:
            apply_learning_events(session, [event], pepper=pepper)
    expected_rows = [("registered", "2024-03-01"), ("attended", "2024-03-02")]
    for course in ("MANY", "ONE"):
        [(external_id, rows)] = _stored(engine, course).items()
        assert [r[:2] for r in rows] == expected_rows, course
        with session_scope(engine) as session:
            enrolment = session.execute(
                select(Enrolment).where(Enrolment.external_id == external_id)
            ).scalar_one()
            assert enrolment.status_date == date(2024, 3, 5)
            steps = timelines(session, [enrolment.model_dump()])[enrolment.id or 0]
        assert [(s["status"], s["status_date"].isoformat()) for s in steps] == [
            *expected_rows,
            ("completed", "2024-03-05"),
        ]
