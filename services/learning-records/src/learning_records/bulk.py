"""Set-based SQL for large batches: COPY on PostgreSQL, multi-row INSERT on SQLite.

Callers hold the change-feed lock and have already sorted new rows from existing ones, so the
rows written here never collide with concurrent writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    String,
    any_,
    bindparam,
    insert,
)
from sqlalchemy.types import TypeEngine
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


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The session's psycopg connection, in its transaction (for COPY and large result sets)."""
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def reserve_ids(session: Session, table: Any, count: int) -> list[int] | None:
    """New primary keys for count rows on PostgreSQL (None elsewhere: the insert returns them)."""
    if not is_postgres(session) or count == 0:
        return None
    with driver_connection(session).cursor(binary=True) as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (table.__tablename__, count),
        )
        return [row[0] for row in cursor.fetchall()]


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
        _copy(session, table, rows)
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


#: PostgreSQL binary COPY type of the column types the bulk tables use (subclasses first).
_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Float, "float8"),
    (Boolean, "bool"),
    (Date, "date"),
    (String, "text"),
)


def _copy_types(table: Any, columns: list[str]) -> list[str] | None:
    """Binary COPY types of these columns, None if one has a type the binary path does not know."""
    types = []
    for name in columns:
        column_type = table.__table__.columns[name].type
        if isinstance(column_type, DateTime):
            found: str | None = "timestamptz" if column_type.timezone else None
        else:
            found = next((t for k, t in _COPY_TYPES if isinstance(column_type, k)), None)
        if found is None or isinstance(column_type, Enum | ARRAY):
            return None
        types.append(found)
    return types


def _copy(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    quoted = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.__tablename__}" ({quoted}) FROM STDIN'
    types = _copy_types(table, columns)
    values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    with driver_connection(session).cursor() as cursor:
        if types is None:  # text COPY: psycopg picks each value's adapter
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(values(row))
            return
        # Binary COPY with the column types given: several times faster to encode.
        with cursor.copy(statement + " (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(values(row))
