"""Concurrent writers on separate connections: one row per source id, a gap-free ordered feed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from learning_records.changes.models import Change
from learning_records.enrolments.models import Enrolment
from learning_records.ingest.kinds import KINDS
from learning_records.ingest.service import apply, prepare
from learning_records.people.models import Person
from pilnveide_kit.auth import Principal
from pilnveide_kit.db import session_scope

WRITER = Principal("lms", frozenset({"records:write"}))


def _run_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _write(engine: Engine, pepper: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    batch = prepare(KINDS["enrolments"], items, principal=WRITER, pepper=pepper)
    with session_scope(engine) as session:
        return apply(session, batch, principal=WRITER, all_or_nothing=False)


def test_same_ids_from_concurrent_writers_give_one_row_each(
    engine: Engine, pepper: str, make_enrolment: Callable[..., dict[str, Any]]
) -> None:
    shared = [make_enrolment(n) for n in range(40)]
    reports: list[dict[str, Any]] = []
    _run_threads(6, lambda n: reports.append(_write(engine, pepper, shared)))
    accepted = sum(r["counts"]["accepted"] for r in reports)
    unchanged = sum(r["counts"]["unchanged"] for r in reports)
    assert (accepted, unchanged) == (40, 40 * 5)
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Enrolment)).scalar_one() == 40
        assert session.execute(select(func.count()).select_from(Person)).scalar_one() == 40


def test_change_feed_is_gap_free_and_ordered_under_concurrent_writers(
    engine: Engine, pepper: str, make_enrolment: Callable[..., dict[str, Any]]
) -> None:
    def work(n: int) -> None:
        for round_ in range(3):
            items = [make_enrolment(1000 * n + 100 * round_ + k) for k in range(15)]
            _write(engine, pepper, items)

    _run_threads(5, work)
    with session_scope(engine) as session:
        seqs = list(session.execute(select(Change.seq).order_by(Change.seq)).scalars())
        enrolment_seqs = set(session.execute(select(Enrolment.seq)).scalars())
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == 5 * 3 * 15 * 2  # one person and one enrolment per item
    assert len(enrolment_seqs) == 5 * 3 * 15 and enrolment_seqs <= set(seqs)
