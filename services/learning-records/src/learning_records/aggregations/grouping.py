"""Helpers every aggregation answer uses: set names, groups and totals, one snapshot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session

from pilnveide_contracts.records import Group


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
) -> tuple[list[Group], float | int]:
    """Groups of the asked sets from rows tagged with their set, and the total's value."""
    total: float | int = convert(0)
    groups: list[Group] = []
    for row in rows:
        index = int(row.set_idx)
        value = convert(row.value or 0)
        if index == total_index:
            total = value
        if index < asked:
            groups.append(
                Group(
                    key={name: getattr(row, name) for name in every[index]}, value=value, set=index
                )
            )
    return sorted(groups, key=sort_key), total


def consistent_snapshot(session: Session) -> None:
    """Every statement of the answer (and its cutoff_seq) sees one snapshot (PostgreSQL)."""
    # On PostgreSQL every statement of the answer (and cutoff_seq) sees one snapshot.
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.in_nested_transaction():
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
