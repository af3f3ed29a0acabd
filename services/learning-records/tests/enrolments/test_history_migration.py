"""rec0009_history: stored timelines read the same after the upgrade, and come back on downgrade."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from learning_records.enrolments.history import timelines
from learning_records.main import migrations
from pilnveide_kit.db import normalise_url
from pilnveide_kit.testing import temporary_database

D = [date(2024, 1, day) for day in range(1, 10)]
#: Enrolments as the old rule stored them: (current status, status_date, seq), every step a row
#: (status, date reached, seq) including the current one.
OLD = {
    1: (("completed", D[2], 12), [("registered", D[1], 11), ("completed", D[2], 12)]),
    2: (("registered", D[1], 21), [("registered", D[1], 21)]),
    # "attended" again later: the date moved, the row kept the date it was reached.
    3: (("attended", D[5], 33), [("registered", D[1], 31), ("attended", D[3], 32)]),
    # an event undone: back to registered, a step of its own.
    4: (
        ("registered", D[1], 43),
        [("registered", D[1], 41), ("completed", D[4], 42), ("registered", D[1], 43)],
    ),
}


def _rows(engine: Engine) -> dict[int, list[tuple[str, date]]]:
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT enrolment_id, status, status_date FROM enrolment_status_change "
                "ORDER BY enrolment_id, seq, id"
            )
        ).all()
    rows: dict[int, list[tuple[str, date]]] = {i: [] for i in OLD}
    for enrolment_id, status, day in found:
        rows[enrolment_id].append(
            (status, day if isinstance(day, date) else date.fromisoformat(day))
        )
    return rows


def test_upgrade_keeps_every_timeline_and_downgrade_restores_the_rows(
    backend: str, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path, "rec0009") as url:
        migrations.upgrade(url, "rec0008_ingest")
        engine = create_engine(normalise_url(url))
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO person (id, pseudonym, created_at) "
                        "VALUES (1, 'p1', CURRENT_TIMESTAMP)"
                    )
                )
                for enrolment_id, ((status, day, seq), steps) in OLD.items():
                    connection.execute(
                        text(
                            "INSERT INTO enrolment (id, source_system, external_id, content_hash,"
                            " seq, created_at, updated_at, person_id, course_code, status,"
                            " status_date) VALUES (:id, 'mps', :ext, 'h', :seq,"
                            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'C1', :status, :day)"
                        ),
                        {
                            "id": enrolment_id,
                            "ext": f"e{enrolment_id}",
                            "seq": seq,
                            "status": status,
                            "day": day,
                        },
                    )
                    for step_status, step_day, step_seq in steps:
                        connection.execute(
                            text(
                                "INSERT INTO enrolment_status_change (enrolment_id, status,"
                                " status_date, seq) VALUES (:e, :status, :day, :seq)"
                            ),
                            {
                                "e": enrolment_id,
                                "status": step_status,
                                "day": step_day,
                                "seq": step_seq,
                            },
                        )
            before = {i: [(s, d) for s, d, _ in steps] for i, (_, steps) in OLD.items()}
            assert _rows(engine) == before

            migrations.upgrade(url)
            # Only the rows repeating the enrolment's current state went.
            assert _rows(engine) == {
                1: [("registered", D[1])],
                2: [],
                3: [("registered", D[1]), ("attended", D[3])],
                4: [("registered", D[1]), ("completed", D[4])],
            }
            with Session(engine) as session:
                current = [
                    {"id": i, "status": s, "status_date": d} for i, ((s, d, _), _) in OLD.items()
                ]
                served = timelines(session, current)
            assert {
                i: [(s["status"], s["status_date"]) for s in steps] for i, steps in served.items()
            } == before

            command.downgrade(migrations.config(url), "rec0008_ingest")
            assert _rows(engine) == before
        finally:
            engine.dispose()
