"""Headcounts as of one date or several (the share denominators), summed per group.

Each series (institution, position group, role) counts with its latest report on or before
the date; several dates are read in one statement, one ranked scan per date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, func, literal, null, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from learning_records.aggregations.grouping import (
    consistent_snapshot,
    groups_and_total,
    union_names,
)
from learning_records.changes.service import head
from learning_records.employment.models import Headcount
from learning_records.people.access import record_visible
from pilnveide_contracts.records import HeadcountQuery, HeadcountResult
from pilnveide_kit.auth import Principal


def headcounts(session: Session, query: HeadcountQuery, principal: Principal) -> HeadcountResult:
    """Headcounts summed per group, from each series' latest report on or before as_of."""
    consistent_snapshot(session)
    cutoff = head(session)
    return headcounts_on(session, query, [query.as_of], principal, cutoff)[0]


def headcounts_on(
    session: Session,
    query: HeadcountQuery,
    days: Sequence[date],
    principal: Principal,
    cutoff: int,
) -> list[HeadcountResult]:
    """The question asked on each of the days, in one statement (one ranked scan per day)."""
    flt = query.filter
    h = aliased(Headcount, name="h")
    on = union_all(*[select(literal(day, Date).label("day")) for day in days]).subquery("days")
    ranked = (
        select(
            on.c.day.label("day"),
            col(h.institution).label("institution"),
            col(h.sector).label("sector"),
            col(h.position_group).label("position_group"),
            col(h.role).label("role"),
            col(h.headcount).label("headcount"),
            func.row_number()
            .over(
                partition_by=[on.c.day, col(h.institution), col(h.position_group), col(h.role)],
                order_by=[col(h.as_of).desc(), col(h.seq).desc()],
            )
            .label("rank"),
        )
        .select_from(h)
        .join(on, col(h.as_of) <= on.c.day)
        .where(record_visible(principal, h))
        .subquery("ranked")
    )

    def conditions(keys: Sequence[str]) -> list[Any]:
        # A grouping by role or position group reads those series; otherwise the totals.
        chosen: list[Any] = [ranked.c.rank == 1]
        if flt.roles is not None or "role" in keys:
            chosen.append(ranked.c.role.is_not(None))
            if flt.roles is not None:
                chosen.append(ranked.c.role.in_(flt.roles))
            if flt.position_groups is not None:
                chosen.append(ranked.c.position_group.in_(flt.position_groups))
            elif "position_group" not in keys:
                chosen.append(ranked.c.position_group.is_(None))
        else:
            chosen.append(ranked.c.role.is_(None))
            if flt.position_groups is not None or "position_group" in keys:
                chosen.append(ranked.c.position_group.is_not(None))
                if flt.position_groups is not None:
                    chosen.append(ranked.c.position_group.in_(flt.position_groups))
            else:
                chosen.append(ranked.c.position_group.is_(None))
        if flt.institutions is not None:
            chosen.append(ranked.c.institution.in_(flt.institutions))
        if flt.sectors is not None:
            chosen.append(ranked.c.sector.in_(flt.sectors))
        return chosen

    sets = query.sets()
    # The total: over the series the whole question reads (legacy group_by: that grouping's).
    every: list[list[str]] = [*sets, list(query.group_by) if query.group_by_sets is None else []]
    names = union_names(every)
    value = func.coalesce(func.sum(ranked.c.headcount), 0).label("value")
    branches = []
    for index, keys in enumerate(every):
        branch = select(
            literal(index).label("set_idx"),
            ranked.c.day.label("day"),
            *[
                (ranked.c[name] if name in keys and index < len(sets) else null()).label(name)
                for name in names
            ],
            value,
        ).where(*conditions(keys))
        grouped = [ranked.c[name] for name in keys] if keys and index < len(sets) else []
        branches.append(branch.group_by(ranked.c.day, *grouped))
    statement = branches[0] if len(branches) == 1 else union_all(*branches)
    by_day: dict[date, list[Any]] = {day: [] for day in days}
    for row in session.execute(statement).all():
        day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        by_day[day].append(row)
    answers = []
    for day in days:
        groups, total = groups_and_total(by_day[day], every, len(sets), len(sets), int)
        if query.group_by_sets is None:
            for group in groups:
                group.set = None
        answers.append(
            HeadcountResult(groups=groups, total=int(total), as_of=day, cutoff_seq=cutoff)
        )
    return answers
