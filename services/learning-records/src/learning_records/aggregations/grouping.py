"""Helpers every aggregation answer uses: set names, groups and totals, one snapshot."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlmodel import Session

from pilnveide_contracts.records import Group

T = TypeVar("T")

#: Statements of one batch answered at once (the request's own connection and helpers).
BATCH_PARALLEL = 3
#: Helper connections all batches of this process may hold together: with the requests' own
#: sessions (at most pilnveide_kit.app.MAX_CONCURRENT_SESSIONS) they stay inside the pool
#: (db_pool_size and as many overflow), so a helper never waits on the pool; a batch that finds
#: none free answers on its own connection.
HELPER_CONNECTIONS = threading.BoundedSemaphore(8)


def union_names(sets: Sequence[Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(name for keys in sets for name in keys))


def sort_key(group: Group) -> tuple[Any, ...]:
    return (group.set or 0, *[(v is None, v) for v in group.key.values()])


def groups_and_total(
    rows: Sequence[Any],
    every: Sequence[Sequence[str]],
    asked: int,
    total_index: int,
    convert: Callable[[Any], float | int],
    value: str = "value",
) -> tuple[list[Group], float | int]:
    """Groups of the asked sets from rows tagged with their set, and the total's value (the
    column `value`: a statement answering several questions has one per question)."""
    total: float | int = convert(0)
    groups: list[Group] = []
    for row in rows:
        index = int(row.set_idx)
        found = convert(getattr(row, value) or 0)
        if index == total_index:
            total = found
        if index < asked:
            groups.append(
                Group(
                    key={name: getattr(row, name) for name in every[index]}, value=found, set=index
                )
            )
    return sorted(groups, key=sort_key), total


#: Sort memory of an aggregation's transaction (PostgreSQL's default is 4MB): ranking a
#: million-record benchmark's position-group headcount series (110,000 rows) spilled to disk
#: and took three times as long. Statements of the answer only; bounded by the sessions and
#: helper connections that may run at once (pilnveide_kit.app, HELPER_CONNECTIONS).
AGGREGATION_WORK_MEM = "16MB"


#: Plans of an aggregation's statements are made for their values, never generic. psycopg
#: prepares a statement run five times on one connection, and PostgreSQL may then plan it once
#: for any values: the plan's questions of one shape (people by the default breakdowns, one
#: course tag per measure) share their SQL text, and a generic plan of one took over 8 s
#: against 0.3 s planned for its values (a million-record benchmark). Replanning costs ~1 ms.
AGGREGATION_PLANS = "force_custom_plan"


def consistent_snapshot(session: Session) -> None:
    """Every statement of the answer (and its cutoff_seq) sees one snapshot (PostgreSQL)."""
    # On PostgreSQL every statement of the answer (and cutoff_seq) sees one snapshot.
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.in_nested_transaction():
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _answer_settings(session)


def _answer_settings(session: Session) -> None:
    """Sort memory and custom plans for the transaction (one statement)."""
    session.connection().exec_driver_sql(
        f"SELECT set_config('work_mem', '{AGGREGATION_WORK_MEM}', true), "
        f"set_config('plan_cache_mode', '{AGGREGATION_PLANS}', true)"
    )


def side_by_side(
    session: Session, tasks: Sequence[T], ask: Callable[[Session, T], Any]
) -> list[Any]:
    """`ask(session, task)` for every task, answers in order. On PostgreSQL up to
    BATCH_PARALLEL at once: helper sessions import the request's REPEATABLE READ snapshot
    (pg_export_snapshot), so every answer still sees the one snapshot; the reference data the
    request has read (`session.info`) is shared."""
    connection = session.connection()
    helpers = 0
    if (
        len(tasks) > 1
        and connection.dialect.name == "postgresql"
        and not connection.in_nested_transaction()
    ):
        wanted = min(BATCH_PARALLEL, len(tasks)) - 1
        while helpers < wanted and HELPER_CONNECTIONS.acquire(blocking=False):
            helpers += 1
    if not helpers:
        return [ask(session, task) for task in tasks]
    try:
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        pending = deque(enumerate(tasks))
        found: dict[int, Any] = {}

        def drain(on: Session) -> None:
            while True:
                try:
                    index, task = pending.popleft()
                except IndexError:
                    return
                try:
                    found[index] = ask(on, task)
                except BaseException:
                    pending.clear()  # the others stop at their next task
                    raise

        def helper() -> None:
            with Session(session.get_bind()) as other:
                other.info.update(session.info)
                on = other.connection()
                on.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                on.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                _answer_settings(other)
                drain(other)

        with ThreadPoolExecutor(max_workers=helpers) as pool:
            running = [pool.submit(helper) for _ in range(helpers)]
            drain(session)
            for future in running:
                future.result()
        return [found[i] for i in range(len(tasks))]
    finally:
        for _ in range(helpers):
            HELPER_CONNECTIONS.release()
