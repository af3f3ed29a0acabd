"""Institution partitions of the LRS: the one rule for what a client sees and changes.

Every statement, document and attachment belongs to the partition of the client that wrote it:
its restriction set, written as the sorted institution codes joined by commas ("VK,VID"); an
unrestricted writer's partition is "" and belongs to no institution.

- Statements and attachments: an unrestricted client sees every partition; a restricted client
  sees the partitions whose institutions are all among its own (a client of VK sees "VK", a
  client of VK and VID sees "VK", "VID" and "VID,VK"), never "".
- Documents (state, activity and agent profiles) are addressed by key, so each partition has
  its own: every client reads and writes the documents of exactly its own partition.

`xapi_partition` lists the partitions that hold data, so a restricted reader's partitions are
found without scanning statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlmodel import Session

from learning_records.xapi.auth import XapiForbidden
from learning_records.xapi.models import XapiPartition

P = XapiPartition.__table__  # type: ignore[attr-defined]


def partition_key(institutions: frozenset[str] | None) -> str:
    """The partition of a restriction set ("" when unrestricted)."""
    return "" if institutions is None else ",".join(sorted(institutions))


class XapiAccess:
    """What one client may see and where what it writes goes."""

    def __init__(self, session: Session, institutions: frozenset[str] | None) -> None:
        self.session = session
        self.institutions = institutions
        self.partition = partition_key(institutions)
        self._visible: list[str] | None = None

    def own_partition(self) -> str:
        """The client's own partition; 403 for a client restricted to no institution (it has
        none: "" is the unrestricted clients')."""
        if self.institutions is not None and not self.institutions:
            raise XapiForbidden("The client is restricted to no institution")
        return self.partition

    def for_writing(self) -> str:
        """The writer's partition, registered; 403 for a client restricted to no institution."""
        self.own_partition()
        known = self.session.scalar(select(P.c.partition).where(P.c.partition == self.partition))
        if known is not None:
            return self.partition
        if self.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        self.session.execute(insert(P).values(partition=self.partition).on_conflict_do_nothing())
        self._visible = None
        return self.partition

    def visible_partitions(self) -> list[str]:
        """The partitions a restricted client sees (all of its institutions, none other)."""
        if self._visible is None:
            own = self.institutions or frozenset()
            self._visible = sorted(
                key
                for key in self.session.scalars(select(P.c.partition))
                if key and set(key.split(",")) <= own
            )
        return self._visible

    def visible(self, column: Any) -> ColumnElement[bool]:
        """SQL: the row's partition (in `column`) is one the client sees."""
        if self.institutions is None:
            return true()
        partitions = self.visible_partitions()
        if not partitions:
            return false()
        return column.in_(partitions)

    def sees(self, partition: str) -> bool:
        """Whether the client sees a partition."""
        return self.institutions is None or partition in self.visible_partitions()
