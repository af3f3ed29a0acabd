"""Aggregations computed in the database: GROUP BY and COUNT(DISTINCT …), never rows in Python.

`assessed_people` counts people with a competency assessment (dated in the period) instead of
an enrolment, with the same person attributes and groupings; `leavers` and `hires` count people
whose employment in an institution ended or began in the period (aggregations/employment.py);
`feedback_people` counts people who gave feedback on a course (aggregations/feedback.py).

Person attributes (institution, sector, position group, management level, roles, civil
servant) come from the employment valid on `employment_as_of` when given, otherwise on the
enrolment's status date; an enrolment that names its institution is counted under it and joined
only to that institution's employment, one without takes its institution from the employment
(asked for a population on a date, `where_employed`, an unrestricted client counts people where
they are employed then). A
restricted client counts only its institutions' records (people/access.py). Erased people have
no rows left, so they are never counted. Course tags come from the copy of the catalog (and from
`course-tags` items written by hand); once the copy holds courses, an enrolment in a course the
catalog lacks is not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    case,
    distinct,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)
from sqlmodel import Session, col

from learning_records.aggregations.employment import movements
from learning_records.aggregations.grouping import (
    consistent_snapshot,
    groups_and_total,
    side_by_side,
    union_names,
)
from learning_records.aggregations.headcounts import headcounts_on
from learning_records.aggregations.matching import (
    matching_rows,
)
from learning_records.changes.service import head
from learning_records.people.models import Person
from learning_records.reference.service import (
    has_courses,
    institution_resorts,
)
from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    BatchQuery,
    BatchResult,
    Group,
    HeadcountResult,
    Member,
    MembersResult,
)
from pilnveide_kit.auth import Principal

T = TypeVar("T")


def _rows_of(
    session: Session,
    query: AggregationQuery,
    principal: Principal,
    sets: list[list[str]],
    *,
    sessions: bool = False,
) -> Any:
    """The rows a metric counts: enrolments, competency assessments, or employment moves
    (`sessions`: with the session key even when the metric is not sessions)."""
    if query.metric in ("leavers", "hires"):
        return movements(
            query.filter,
            principal,
            leavers=query.metric == "leavers",
            postgres=session.connection().dialect.name == "postgresql",
        )
    return matching_rows(
        query.filter,
        principal,
        known_courses=_per_answer(session, "has_courses", has_courses),
        sessions=sessions or query.metric == "sessions",
        assessments=query.metric == "assessed_people",
        resorts=_per_answer(session, "resorts", institution_resorts)
        if "resort" in union_names(sets)
        else None,
        feedback=query.metric == "feedback_people",
        postgres=session.connection().dialect.name == "postgresql",
    )


def _per_answer(session: Session, name: str, read: Callable[[Session], T]) -> T:
    """Reference data read once per answer (a batch's questions share it: one snapshot)."""
    cache = session.info.setdefault("aggregations", {})
    if name not in cache:
        cache[name] = read(session)
    found: T = cache[name]
    return found


def aggregate(session: Session, query: AggregationQuery, principal: Principal) -> AggregationResult:
    """The metric over matching enrolments, per group of every set and in total, in one query."""
    consistent_snapshot(session)
    return _aggregate(session, query, principal, head(session))


def _aggregate(
    session: Session, query: AggregationQuery, principal: Principal, cutoff: int
) -> AggregationResult:
    sets = query.sets()
    matching = _rows_of(session, query, principal, sets)
    postgres = session.connection().dialect.name == "postgresql"
    total: float | int
    if query.metric in ("assessed_people", "feedback_people", "leavers", "hires"):
        [(groups, total)] = _counts(session, ["people"], matching, sets, postgres)
    elif query.metric == "people_with_frequency":
        groups, total = _frequency(session, query, matching, sets, postgres)
    elif query.metric == "hours":
        groups, total = _hours(session, matching, sets, postgres)
    else:
        [(groups, total)] = _counts(session, [query.metric], matching, sets, postgres)
    return _answer(query, groups, total, cutoff)


def _answer(
    query: AggregationQuery, groups: list[Group], total: float | int, cutoff: int
) -> AggregationResult:
    """The answer to a question; a question without `group_by_sets` gets groups without set."""
    if query.group_by_sets is None:
        for group in groups:
            group.set = None
    return AggregationResult(metric=query.metric, groups=groups, total=total, cutoff_seq=cutoff)


def _grouped(
    source: Any,
    sets: Sequence[Sequence[str]],
    aggregates: Sequence[Any],
    postgres: bool,
) -> Any:
    """Groups of every set in one statement, each row tagged with its set's index (`set_idx`).

    PostgreSQL computes all sets in one pass with GROUPING SETS; elsewhere (SQLite) it is a
    UNION ALL of one GROUP BY per set. Columns outside a row's set are NULL.
    """
    names = union_names(sets)
    columns = [source.c[name] for name in names]
    if postgres and names:
        width = len(names)
        grouped = _sharing_sorts(sets)
        masks = {
            sum(1 << (width - 1 - i) for i, name in enumerate(names) if name not in keys): index
            for index, keys in enumerate(grouped)
        }
        statement = select(
            case(masks, value=func.grouping(*columns)).label("set_idx"),
            *[column.label(name) for column, name in zip(columns, names, strict=True)],
            *aggregates,
        ).group_by(func.grouping_sets(*[tuple_(*[source.c[n] for n in keys]) for keys in grouped]))
        return statement
    branches = []
    for index, keys in enumerate(sets):
        branch = select(
            literal(index).label("set_idx"),
            *[(source.c[name] if name in keys else null()).label(name) for name in names],
            *aggregates,
        )
        if keys:
            branch = branch.group_by(*[source.c[name] for name in keys])
        branches.append(branch)
    return branches[0] if len(branches) == 1 else union_all(*branches)


def _sharing_sorts(sets: Sequence[Sequence[str]]) -> list[list[str]]:
    """The sets as PostgreSQL groups them: a set with `institution` but not `resort` also by
    `resort`. A row's resort is a function of its institution, so the groups (and the values)
    are the same, but the set then extends a set of `resort` alone: both are read from one sort
    (a rollup) instead of a sort each, one sort of every matching row fewer per answer that
    groups by institution and by resort (the plan's default breakdowns). The extra key is
    never answered: a group's key holds only the names its set asked for."""
    names = union_names(sets)
    if "resort" not in names or "institution" not in names:
        return [list(keys) for keys in sets]
    asked = {frozenset(keys) for keys in sets}
    grouped = []
    for keys in sets:
        wider = ["resort", *keys]
        if "institution" in keys and "resort" not in keys and frozenset(wider) not in asked:
            grouped.append(wider)
        else:
            grouped.append(list(keys))
    return grouped


def _with_total(sets: list[list[str]]) -> tuple[list[list[str]], int]:
    """The sets with the empty set (the total) added unless asked for; the total's index."""
    if [] in sets:
        return sets, sets.index([])
    return [*sets, []], len(sets)


def _value(metric: str, matching: Any) -> Any:
    columns = matching.c
    if metric == "people":
        return func.count(distinct(columns.person_id))
    if metric == "institutions":
        return func.count(distinct(columns.institution))
    if metric == "municipalities":
        return func.count(distinct(columns.municipality))
    if metric == "sessions":
        return func.count(distinct(columns.session))
    return func.count(distinct(columns.enrolment_id))


#: Metrics that are one distinct count over the rows of a filter: a batch's questions that differ
#: only in which of these they count share one statement (`_aggregate_together`).
SHARED_ROWS = frozenset({"people", "institutions", "municipalities", "enrolments", "sessions"})


def _aggregate_together(
    session: Session, queries: Sequence[AggregationQuery], principal: Principal, cutoff: int
) -> list[AggregationResult]:
    """Questions alike but for their metric (each of SHARED_ROWS) in one statement: the rows
    are read, joined and sorted for each set once, with one count per question beside the
    others (the groups are the same whatever is counted)."""
    if len(queries) == 1:
        return [_aggregate(session, queries[0], principal, cutoff)]
    first = queries[0]
    sets = first.sets()
    matching = _rows_of(
        session, first, principal, sets, sessions=any(q.metric == "sessions" for q in queries)
    )
    postgres = session.connection().dialect.name == "postgresql"
    counted = _counts(session, [q.metric for q in queries], matching, sets, postgres)
    return [
        _answer(query, groups, total, cutoff)
        for query, (groups, total) in zip(queries, counted, strict=True)
    ]


def _counts(
    session: Session, metrics: Sequence[str], matching: Any, sets: list[list[str]], postgres: bool
) -> list[tuple[list[Group], float | int]]:
    """Each metric's distinct count per group and in total, all in one statement."""
    every, total_index = _with_total(sets)
    values = [_value(metric, matching).label(f"value_{n}") for n, metric in enumerate(metrics)]
    rows = session.execute(_grouped(matching, every, values, postgres)).all()
    return [
        groups_and_total(rows, every, len(sets), total_index, int, value=f"value_{n}")
        for n in range(len(metrics))
    ]


def _hours(
    session: Session, matching: Any, sets: list[list[str]], postgres: bool
) -> tuple[list[Group], float | int]:
    # An enrolment's hours count once per group, however many employment rows matched it.
    every, total_index = _with_total(sets)
    per_enrolment = _grouped(
        matching,
        [[*keys, "enrolment_id"] for keys in every],
        [func.max(matching.c.hours).label("hours")],
        postgres,
    ).subquery("per_enrolment")
    names = union_names(every)
    keyed = [per_enrolment.c.set_idx, *[per_enrolment.c[name] for name in names]]
    rows = session.execute(
        select(*keyed, func.coalesce(func.sum(per_enrolment.c.hours), 0).label("value")).group_by(
            *keyed
        )
    ).all()
    return groups_and_total(rows, every, len(sets), total_index, float)


def _frequency(
    session: Session,
    query: AggregationQuery,
    matching: Any,
    sets: list[list[str]],
    postgres: bool,
) -> tuple[list[Group], float | int]:
    """People whose matching enrolments of a calendar year, all counted together whichever
    groups they fall in, lie within the bounds; each is then counted in every group of that
    year they have a matching enrolment in. Every set is per year; without sets, the years."""
    frequency = query.frequency
    assert frequency is not None
    count = func.count(distinct(matching.c.enrolment_id))
    bounds = [count >= frequency.min_per_year]
    if frequency.max_per_year is not None:
        bounds.append(count <= frequency.max_per_year)
    meeting = (
        select(matching.c.person_id, matching.c.year)
        .group_by(matching.c.person_id, matching.c.year)
        .having(and_(*bounds))
        .subquery("meeting")
    )
    counted = (
        select(*matching.c)
        .join(
            meeting,
            and_(meeting.c.person_id == matching.c.person_id, meeting.c.year == matching.c.year),
        )
        .subquery("counted")
    )
    every = [keys if "year" in keys else [*keys, "year"] for keys in sets or [["year"]]]
    [counts] = _counts(session, ["people"], counted, every, postgres)
    return counts


def members(session: Session, query: AggregationQuery, principal: Principal) -> MembersResult:
    """Who an aggregation counts: pseudonymous people with their institution, or institutions."""
    consistent_snapshot(session)
    cutoff = head(session)
    sets = query.sets()
    matching = _rows_of(session, query, principal, sets)
    if query.metric in ("institutions", "municipalities"):
        unit = matching.c.institution
        statement = select(unit).distinct().where(unit.is_not(None))
        if query.metric == "municipalities":
            statement = statement.where(matching.c.municipality.is_not(None))
        rows = session.execute(statement).all()
        found = [Member(institution=row[0]) for row in rows]
    else:
        rows = session.execute(
            select(col(Person.pseudonym), matching.c.institution)
            .distinct()
            .join(Person, col(Person.id) == matching.c.person_id)
        ).all()
        found = [Member(person=row[0], institution=row[1]) for row in rows]
    found.sort(key=lambda m: (m.institution or "", m.person or ""))
    return MembersResult(members=found, cutoff_seq=cutoff)


def batch(session: Session, query: BatchQuery, principal: Principal) -> BatchResult:
    """Every question of a batch from one snapshot; headcount questions that differ only in
    their date are asked together (one statement for all their dates), and so are aggregations
    that differ only in a metric of SHARED_ROWS (one statement for all). On PostgreSQL the
    statements run side by side (`side_by_side`), each on the request's snapshot."""
    consistent_snapshot(session)
    cutoff = head(session)
    alike: dict[str, list[int]] = {}
    for index, question in enumerate(query.headcounts):
        shape = question.model_dump_json(exclude={"as_of"})
        alike.setdefault(shape, []).append(index)
    headcount_sets = [
        (
            query.headcounts[indexes[0]],
            list(dict.fromkeys(query.headcounts[i].as_of for i in indexes)),
        )
        for indexes in alike.values()
    ]

    # Aggregations that differ only in a metric of SHARED_ROWS (an indicator's people and
    # another's institutions over one filter) are counted by one statement.
    together: dict[str, list[int]] = {}
    for index, asked in enumerate(query.aggregations):
        shape = (
            asked.model_dump_json(exclude={"metric"}) if asked.metric in SHARED_ROWS else str(index)
        )
        together.setdefault(shape, []).append(index)
    counted = list(together.values())

    def ask(work: Session, task: int) -> Any:
        if task < len(counted):
            chosen = [query.aggregations[i] for i in counted[task]]
            return _aggregate_together(work, chosen, principal, cutoff)
        question, days = headcount_sets[task - len(counted)]
        return headcounts_on(work, question, days, principal, cutoff)

    found = side_by_side(session, list(range(len(counted) + len(headcount_sets))), ask)
    by_index: dict[int, AggregationResult] = {}
    for indexes, results in zip(counted, found[: len(counted)], strict=True):
        by_index.update(zip(indexes, results, strict=True))
    aggregations = [by_index[i] for i in range(len(query.aggregations))]
    answers: dict[int, HeadcountResult] = {}
    for indexes, (_question, days), per_day in zip(
        alike.values(), headcount_sets, found[len(counted) :], strict=True
    ):
        on_day = dict(zip(days, per_day, strict=True))
        for i in indexes:
            answers[i] = on_day[query.headcounts[i].as_of]
    return BatchResult(
        aggregations=aggregations,
        headcounts=[answers[i] for i in range(len(query.headcounts))],
        cutoff_seq=cutoff,
    )
