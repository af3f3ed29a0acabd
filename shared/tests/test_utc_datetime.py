"""UtcDateTime: timestamps come back aware and in UTC on SQLite as on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from pilnveide_kit.db import UtcDateTime, make_engine


def test_sqlite_gives_back_aware_utc(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'utc.db'}")
    metadata = MetaData()
    table = Table(
        "t", metadata, Column("id", Integer, primary_key=True), Column("at", UtcDateTime())
    )
    metadata.create_all(engine)
    riga = timezone(timedelta(hours=2))
    with engine.begin() as connection:
        connection.execute(
            insert(table),
            [
                {"id": 1, "at": datetime(2026, 1, 1, 12, 0, tzinfo=riga)},
                {"id": 2, "at": datetime(2026, 1, 1, 12, 0)},
                {"id": 3, "at": None},
            ],
        )
        rows = dict(connection.execute(select(table.c.id, table.c.at)).all())
    engine.dispose()
    assert rows[1] == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert rows[1].tzinfo is UTC
    assert rows[2] == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # naive is taken as UTC
    assert rows[3] is None
    assert rows[1].isoformat().endswith("+00:00")
