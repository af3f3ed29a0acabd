"""Gap-free change-feed numbering: each writing transaction locks the counter row first.

The counter row is locked (UPDATE … RETURNING) before a transaction writes anything and kept
locked until it commits, so writers are serialised and sequence numbers become visible in
commit order: a reader that has seen N never later finds a number below N appearing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, and_, cast, event, exists, insert, literal, or_, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, func, select

from learning_records.bulk import insert_rows
from learning_records.changes.models import Change, ChangeCounter
from learning_records.models import utcnow
from learning_records.people.access import INSTITUTION_TABLES, record_visible
from pilnveide_kit.auth import Principal
from pilnveide_kit.pagination import count_of

_INFO_KEY = "learning_records.change_feed"


class ChangeFeed:
    """The sequence numbers one transaction hands out; written to the feed on flush()."""

    def __init__(self, session: Session, last_seq: int) -> None:
        self.session = session
        self.last_seq = last_seq
        self._written_seq = last_seq
        self._pending: list[dict[str, Any]] = []
        #: (first, last) ranges already written by INSERT … SELECT in the database.
        self._written_ranges: list[tuple[int, int]] = []

    def record(self, entity: str, op: str, key: object) -> int:
        """Append one change and return its sequence number."""
        self.last_seq += 1
        self._pending.append({"seq": self.last_seq, "entity": entity, "op": op, "key": str(key)})
        return self.last_seq

    def record_many(self, entity: str, op: str, keys: Iterable[object]) -> list[int]:
        """Append one change per key; their sequence numbers in order."""
        return [self.record(entity, op, key) for key in keys]

    def allocate(self, count: int) -> int:
        """Reserve count consecutive numbers; the first of them (call add() for each)."""
        first = self.last_seq + 1
        self.last_seq += count
        return first

    def add(self, seq: int, entity: str, op: str, key: object) -> None:
        """Record the change for a number reserved with allocate()."""
        self._pending.append({"seq": seq, "entity": entity, "op": op, "key": str(key)})

    def add_from_table(self, table: Any, entity: str, op: str, first: int, last: int) -> None:
        """Write the changes for a reserved range straight from the rows that carry those seqs.

        One INSERT … SELECT in the database instead of a Python row per record: the bulk path
        uses it when every record of the range was created by this write.
        """
        if last < first:
            return
        source = sa_select(
            col(table.seq),
            literal(entity),
            literal(op),
            cast(col(table.id), String(64)),
            literal(utcnow()),
        ).where(col(table.seq) >= first, col(table.seq) <= last)
        self.session.execute(
            insert(Change).from_select(["seq", "entity", "op", "key", "at"], source)
        )
        written = self.session.execute(
            sa_select(func.count()).where(col(Change.seq) >= first, col(Change.seq) <= last)
        ).scalar_one()
        if written != last - first + 1:
            raise RuntimeError("the records of a reserved change range are not all there")
        self._written_ranges.append((first, last))

    def set_key(self, seq: int, key: object) -> None:
        """Name the record of a pending change once its id is known (after an ORM flush)."""
        for row in reversed(self._pending):
            if row["seq"] == seq:
                row["key"] = str(key)
                return
        raise KeyError(seq)

    def flush(self) -> None:
        """Write the pending changes and move the counter (the row lock is still held)."""
        if not self._pending and not self._written_ranges:
            return
        now = utcnow()
        for row in self._pending:
            row["at"] = now
        self._pending.sort(key=lambda row: int(row["seq"]))
        covered = sorted(
            [(int(r["seq"]), int(r["seq"])) for r in self._pending] + self._written_ranges
        )
        expected = self._written_seq + 1
        for first, last in covered:
            if first != expected:
                raise RuntimeError("change-feed numbers were reserved but not used")
            expected = last + 1
        if expected != self.last_seq + 1:
            raise RuntimeError("change-feed numbers were reserved but not used")
        insert_rows(self.session, Change, self._pending)
        self.session.execute(
            update(ChangeCounter).where(col(ChangeCounter.id) == 1).values(last_seq=self.last_seq)
        )
        self._written_seq = self.last_seq
        self._pending = []
        self._written_ranges = []


def change_feed(session: Session) -> ChangeFeed:
    """This transaction's feed: the first call locks the counter row until commit or rollback."""
    feed = session.info.get(_INFO_KEY)
    if isinstance(feed, ChangeFeed):
        return feed
    last = _lock_counter(session)
    if last is None:
        _create_counter(session)
        last = _lock_counter(session)
    feed = ChangeFeed(session, int(last or 0))
    session.info[_INFO_KEY] = feed
    return feed


def forget_feed(session: OrmSession) -> None:
    """Drop the transaction's feed (after commit or rollback the lock is gone)."""
    session.info.pop(_INFO_KEY, None)


@event.listens_for(OrmSession, "before_commit")
def _flush_feed_before_commit(session: OrmSession) -> None:
    feed = session.info.get(_INFO_KEY)
    if isinstance(feed, ChangeFeed):
        feed.flush()


@event.listens_for(OrmSession, "after_commit")
def _forget_after_commit(session: OrmSession) -> None:
    forget_feed(session)


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    forget_feed(session)


def _lock_counter(session: Session) -> int | None:
    row = session.execute(
        text("UPDATE change_counter SET last_seq = last_seq WHERE id = 1 RETURNING last_seq")
    ).first()
    return None if row is None else int(row[0])


def _create_counter(session: Session) -> None:
    # The row may be missing in a fresh or emptied database; start from the highest change.
    highest = session.execute(select(func.coalesce(func.max(Change.seq), 0))).scalar_one()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    session.execute(
        dialect_insert(ChangeCounter)
        .values(id=1, last_seq=highest)
        .on_conflict_do_nothing(index_elements=["id"])
    )


def head(session: Session) -> int:
    """The last sequence number committed to the feed."""
    value = session.execute(select(func.max(Change.seq))).scalar_one_or_none()
    return int(value or 0)


def changes_after(session: Session, after: int, limit: int) -> list[Change]:
    """Up to limit changes with a sequence number above after, in order."""
    return list(
        session.exec(
            select(Change).where(col(Change.seq) > after).order_by(col(Change.seq)).limit(limit)
        ).all()
    )


def _visible(principal: Principal) -> Any:
    """A change is visible to a restricted client when it produced the current version of a
    record (the record's seq) of one of its institutions; the seq index makes it a lookup."""
    return or_(
        *[
            and_(
                col(Change.entity) == table.__tablename__,
                exists(
                    select(col(table.id)).where(
                        col(table.seq) == col(Change.seq), record_visible(principal, table)
                    )
                ),
            )
            for table in INSTITUTION_TABLES
        ]
    )


def visible_changes_after(
    session: Session, principal: Principal, after: int, until: int, limit: int
) -> list[Change]:
    """Up to limit changes in (after, until] that a restricted client may see, in order."""
    return list(
        session.exec(
            select(Change)
            .where(col(Change.seq) > after, col(Change.seq) <= until, _visible(principal))
            .order_by(col(Change.seq))
            .limit(limit)
        ).all()
    )


def count_visible(session: Session, principal: Principal, after: int, until: int) -> int:
    """How many changes in (after, until] a restricted client may see (one pass over them)."""
    return count_of(
        session,
        select(Change).where(
            col(Change.seq) > after, col(Change.seq) <= until, _visible(principal)
        ),
    )
