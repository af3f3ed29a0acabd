"""Set-based SQL for large batches: COPY on PostgreSQL, multi-row INSERT on SQLite.

Callers hold the change-feed lock and have already sorted new rows from existing ones, so the
rows written here never collide with concurrent writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, String, any_, bindparam, insert, text
from sqlmodel import Session

#: Rows per statement on SQLite (at most 32,766 bound parameters per statement).
SQLITE_CHUNK = 2000


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def in_values(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL (fast for thousands of values)."""
    if is_postgres(session):
        element_type = Integer() if values and isinstance(values[0], int) else String()
        return column == any_(bindparam(None, list(values), type_=ARRAY(element_type)))
    return column.in_(list(values))


def reserve_ids(session: Session, table: Any, count: int) -> list[int] | None:
    """New primary keys for count rows on PostgreSQL (None elsewhere: the insert returns them)."""
    if not is_postgres(session) or count == 0:
        return None
    rows = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.__tablename__, "n": count},
    ).scalars()
    return [int(i) for i in rows]


def insert_rows(
    session: Session, table: Any, rows: list[dict[str, Any]], *, returning_ids: bool = False
) -> list[int]:
    """Insert many rows (same keys in each); their ids, in order, when returning_ids is set."""
    if not rows:
        return []
    if is_postgres(session):
        ids: list[int] = []
        if returning_ids:
            ids = reserve_ids(session, table, len(rows)) or []
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        _copy(session, table.__tablename__, rows)
        return ids
    ids = []
    for start in range(0, len(rows), SQLITE_CHUNK):
        part = rows[start : start + SQLITE_CHUNK]
        if returning_ids:
            statement = insert(table).returning(table.id, sort_by_parameter_order=True)
            ids.extend(int(i) for i in session.execute(statement, part).scalars())
        else:
            session.execute(insert(table), part)
    return ids


def _copy(session: Session, table_name: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    assert raw is not None
    quoted = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
