"""A batch's statements run side by side on PostgreSQL, every one on the request's snapshot."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session

from learning_records.aggregations import grouping
from learning_records.aggregations.grouping import consistent_snapshot, side_by_side

TOGETHER = threading.Barrier(grouping.BATCH_PARALLEL, timeout=60)


def _seen(session: Session, task: int) -> tuple[int, str, int]:
    """The task, the snapshot its statement saw and the backend that ran it."""
    if 0 <= task < grouping.BATCH_PARALLEL:
        # The first tasks meet: each of them is being answered at once, on its own connection.
        TOGETHER.wait()
    connection = session.connection()
    snapshot = connection.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one()
    backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    return task, snapshot, backend


def _plain(session: Session, task: int) -> tuple[int, str]:
    return task, session.connection().dialect.name


def test_answers_come_in_order_from_one_snapshot(engine: Engine) -> None:
    with Session(engine) as session:
        consistent_snapshot(session)
        if session.connection().dialect.name != "postgresql":
            assert side_by_side(session, [3, 1, 2], _plain) == [
                (3, "sqlite"),
                (1, "sqlite"),
                (2, "sqlite"),
            ]
            return
        own = _seen(session, -1)
        # A transaction committed after the snapshot was taken is not seen by the helpers.
        with Session(engine) as writer:
            writer.connection().exec_driver_sql("SELECT txid_current()")
            writer.commit()
        found = side_by_side(session, list(range(12)), _seen)
    assert [task for task, _snapshot, _backend in found] == list(range(12))
    assert {snapshot for _task, snapshot, _backend in found} == {own[1]}
    assert len({backend for _task, _snapshot, backend in found}) == grouping.BATCH_PARALLEL


def test_without_free_helper_connections_the_request_answers_alone(engine: Engine) -> None:
    taken = 0
    while grouping.HELPER_CONNECTIONS.acquire(blocking=False):
        taken += 1
    try:
        with Session(engine) as session:
            consistent_snapshot(session)
            if session.connection().dialect.name != "postgresql":
                return
            found = side_by_side(session, list(range(10, 15)), _seen)
        assert [task for task, _snapshot, _backend in found] == list(range(10, 15))
        assert len({backend for _task, _snapshot, backend in found}) == 1
    finally:
        for _ in range(taken):
            grouping.HELPER_CONNECTIONS.release()


def test_a_failing_question_fails_the_batch(engine: Engine) -> None:
    def failing(session: Session, task: int) -> int:
        if task == 4:
            raise ValueError("no such metric")
        return task

    with Session(engine) as session:
        consistent_snapshot(session)
        try:
            side_by_side(session, list(range(8)), failing)
        except ValueError as exc:
            assert str(exc) == "no such metric"
        else:
            raise AssertionError("the failure was lost")
    # Every helper connection was given back.
    taken = 0
    while grouping.HELPER_CONNECTIONS.acquire(blocking=False):
        taken += 1
    for _ in range(taken):
        grouping.HELPER_CONNECTIONS.release()
    assert taken == 8


def _settings(session: Session, task: int) -> tuple[str, str]:
    connection = session.connection()
    return (
        connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one(),
        connection.exec_driver_sql("SHOW work_mem").scalar_one(),
    )


def test_every_connection_of_an_answer_plans_for_the_values_with_sort_memory(
    engine: Engine,
) -> None:
    # A generic plan (PostgreSQL's choice for a statement psycopg prepared) of one benchmark
    # question took seconds where one planned for its values takes a fraction of one.
    with Session(engine) as session:
        consistent_snapshot(session)
        if session.connection().dialect.name != "postgresql":
            return
        found = side_by_side(session, list(range(6)), _settings)
    assert set(found) == {(grouping.AGGREGATION_PLANS, grouping.AGGREGATION_WORK_MEM)}
    assert grouping.AGGREGATION_PLANS == "force_custom_plan"
    with Session(engine) as session:  # only the answer's transaction: the default elsewhere
        assert session.connection().exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"
