"""Re-applying the course mappings to statements already stored as unmapped.

A statement stored before its activity was mapped to a course is kept as unmapped. A re-apply
runs the current mapping over the stored unmapped, not voided statements, each with the
principal that wrote it (its client and its partition's institutions), exactly as the statement
would have been applied had it arrived now: a restricted writer's statement still changes only
enrolments at its own institutions, about a person employed there. A dry run only counts.
Statements that map leave the unmapped outcome, so a second run finds nothing to do.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.mapping import ERROR, MAPPED, REJECTED, UNMAPPED, StatementMapper
from learning_records.xapi.models import XapiStatement
from learning_records.xapi.settings import XapiSettings
from pilnveide_kit.auth import Principal

S = XapiStatement.__table__  # type: ignore[attr-defined]
#: Statements read per round trip.
BATCH = 500


@dataclass
class ReapplyCounts:
    """What a re-apply found (and, unless a dry run, did)."""

    examined: int = 0
    by_course: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def matched(self) -> int:
        """Statements that map under the current mappings."""
        return sum(self.by_course.values())


def writer_of(client_id: str, partition: str) -> Principal:
    """The principal a statement was written with, as far as the mapping needs it."""
    institutions = None if partition == "" else frozenset(partition.split(","))
    return Principal(
        client_id=client_id, scopes=frozenset({"xapi:write"}), institutions=institutions
    )


def reapply_mappings(
    session: Session,
    settings: XapiSettings,
    pepper: str,
    access: XapiAccess,
    *,
    dry_run: bool,
    activity_id: str | None = None,
    client_id: str | None = None,
    activities: Collection[str] | None = None,
) -> ReapplyCounts:
    """Run the current mappings over the unmapped, not voided statements the caller sees (only
    those on `activity_id` or among `activities` when given, only those `client_id` wrote when
    given), oldest first."""
    counts = ReapplyCounts()
    mappers: dict[tuple[str, str], StatementMapper] = {}
    after = 0
    while True:
        query = (
            select(S.c.seq, S.c.statement_id, S.c.payload, S.c.partition, S.c.client_id)
            .where(
                S.c.mapping_status == UNMAPPED,
                S.c.voided.is_(False),
                S.c.seq > after,
                access.visible(S.c.partition),
            )
            .order_by(S.c.seq)
            .limit(BATCH)
        )
        if activity_id is not None:
            query = query.where(S.c.object_type == "Activity", S.c.object_key == activity_id)
        if activities is not None:
            query = query.where(
                S.c.object_type == "Activity", S.c.object_key.in_(sorted(set(activities)))
            )
        if client_id is not None:
            query = query.where(S.c.client_id == client_id)
        if not dry_run:
            query = query.with_for_update()
        rows = session.execute(query).all()
        if not rows:
            return counts
        after = rows[-1].seq
        groups: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        page: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        for row in rows:
            counts.examined += 1
            page.setdefault((row.client_id, row.partition), []).append(
                (row.statement_id, json.loads(row.payload))
            )
        for key, statements in page.items():
            mapper = mappers.get(key)
            if mapper is None:
                mapper = StatementMapper(session, settings, writer_of(*key), pepper)
                mappers[key] = mapper
            mapper.prefetch([statement for _, statement in statements])
            for statement_id, statement in statements:
                event = mapper.event_for(statement)
                if isinstance(event, str):
                    continue
                counts.by_course[event.course_code] += 1
                groups.setdefault(key, []).append((statement_id, statement))
        if dry_run:
            continue
        for key, matched in groups.items():
            # As for fresh statements: mapped, then applied (which may turn some rejected/error).
            mapper = mappers[key]
            ids = [statement_id for statement_id, _ in matched]
            mapper.set_outcomes({statement_id: (MAPPED, None) for statement_id in ids})
            mapper.apply([statement for _, statement in matched], set(ids), [])
            outcomes = session.execute(
                select(S.c.mapping_status).where(S.c.statement_id.in_(ids))
            ).scalars()
            for outcome in outcomes:
                counts.outcomes[outcome if outcome in (REJECTED, ERROR) else MAPPED] += 1
