"""learning-records' aggregation contract over an in-memory dataset, with its exact semantics.

Used by the tests (small hand-built datasets) and handy for demos; it is a second reading of
docs/contracts/records-for-indicators.md, not a copy of learning-records' code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from indicators.engine.computation import with_resorts
from indicators.sources.protocols import ExplainUnavailable
from indicators.sources.types import IndicatorInfo, InstitutionInfo
from pilnveide_contracts.records import (
    AggregationFilter,
    AggregationQuery,
    AggregationResult,
    Group,
    HeadcountQuery,
    HeadcountResult,
    Member,
    MembersResult,
)


@dataclass(frozen=True)
class Employment:
    """A person's job in an institution over a date range (valid_to inclusive, None: open)."""

    person: str
    institution: str
    valid_from: date
    valid_to: date | None = None
    sector: str = "state"
    position_group: str | None = None
    management_level: str | None = None
    roles: frozenset[str] = frozenset()
    civil_servant: bool = False
    #: Why the person left at valid_to (a code of the catalog's `leaving_reasons`).
    leaving_reason: str | None = None


@dataclass(frozen=True)
class Enrolment:
    """A person's enrolment in a course with its current status and the status's date."""

    person: str
    course: str
    status: str
    status_date: date
    course_tags: frozenset[str] = frozenset()
    test_passed: bool | None = None
    #: The session (run) of the course, e.g. one sprint.
    session: str | None = None
    #: When the test was passed (None: no date, counts on any date).
    test_passed_on: date | None = None
    hours: float = 0.0


@dataclass(frozen=True)
class Assessment:
    """A competency assessed against a framework by a method on a date."""

    person: str
    framework: str
    method: str
    assessed_on: date
    competency: str = "C"


@dataclass(frozen=True)
class Feedback:
    """Immediate feedback on a course, or the follow-up on use at work."""

    person: str
    course: str
    kind: str
    submitted_on: date
    applied_at_work: bool | None = None
    course_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Headcount:
    """An HR headcount of an institution (or one of its position groups or roles) on a date."""

    institution: str
    as_of: date
    value: int
    sector: str = "state"
    position_group: str | None = None
    role: str | None = None


@dataclass
class MemoryRecords:
    """An in-memory learning-records offering the aggregation contract."""

    employments: list[Employment] = field(default_factory=list)
    enrolments: list[Enrolment] = field(default_factory=list)
    headcount_rows: list[Headcount] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    #: Tags of courses nobody is enrolled in yet (course -> tags), for `all_courses_of`.
    course_tags: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Its copy of the catalog's institutions (`resort`: the catalog's parent), for `resort`.
    institutions: list[InstitutionInfo] = field(default_factory=list)
    erased: set[str] = field(default_factory=set)
    seq: int = 1
    offers_members: bool = True
    calls: int = 0

    def resort(self, institution: str) -> str | None:
        """The institution's resort: the top of its parent chain (None: in no resort)."""
        found = with_resorts(self.institutions).get(institution)
        return found.resort if found is not None else None

    def employment_on(self, person: str, day: date) -> Employment | None:
        """The person's employment valid on a day (the latest started, when several are)."""
        valid = [
            e
            for e in self.employments
            if e.person == person
            and e.valid_from <= day
            and (e.valid_to is None or day <= e.valid_to)
        ]
        return max(valid, key=lambda e: e.valid_from) if valid else None

    def _matches(self, enrolment: Enrolment, chosen: AggregationFilter) -> Employment | None:
        if enrolment.person in self.erased:
            return None
        if chosen.courses is not None and enrolment.course not in chosen.courses:
            return None
        if chosen.course_tags is not None and not enrolment.course_tags & set(chosen.course_tags):
            return None
        if chosen.course_tags_all is not None and not set(chosen.course_tags_all) <= (
            enrolment.course_tags
        ):
            return None
        if chosen.statuses is not None and enrolment.status not in chosen.statuses:
            return None
        period = chosen.period
        if chosen.test_passed is not None:
            passed = bool(enrolment.test_passed)
            if passed and period is not None and period.to is not None and enrolment.test_passed_on:
                passed = enrolment.test_passed_on <= period.to
            if passed != chosen.test_passed:
                return None
        if chosen.all_courses_of is not None and not self._did_all(enrolment.person, chosen):
            return None
        if period is not None:
            if period.from_ is not None and enrolment.status_date < period.from_:
                return None
            if period.to is not None and enrolment.status_date > period.to:
                return None
        job = self.employment_on(enrolment.person, chosen.employment_as_of or enrolment.status_date)
        if job is None:
            return None
        if not _person_matches(job, chosen):
            return None
        return job

    def _did_all(self, person: str, chosen: AggregationFilter) -> bool:
        tag = chosen.all_courses_of
        courses = {c for c, tags in self.course_tags.items() if tag in tags}
        courses |= {e.course for e in self.enrolments if tag in e.course_tags}
        end = chosen.period.to if chosen.period is not None else None
        done = {
            e.course
            for e in self.enrolments
            if e.person == person
            and (chosen.statuses is None or e.status in chosen.statuses)
            and (end is None or e.status_date <= end)
        }
        return bool(courses) and courses <= done

    def _matching(
        self, chosen: AggregationFilter, metric: str = "people"
    ) -> list[tuple[Enrolment, Employment]]:
        if metric in ("leavers", "hires"):
            return self._moves(chosen, leavers=metric == "leavers")
        if metric == "feedback_people":
            return self._feedback(chosen)
        rows = self.enrolments
        if metric == "assessed_people":
            # An assessment read as an enrolment: its framework as the course, its method as
            # the status, its date as the status date.
            rows = [
                Enrolment(a.person, a.framework, a.method, a.assessed_on) for a in self.assessments
            ]
            chosen = chosen.model_copy(
                update={
                    "courses": chosen.frameworks,
                    "statuses": chosen.methods,
                    "frameworks": None,
                    "methods": None,
                }
            )
        found = []
        for enrolment in rows:
            job = self._matches(enrolment, chosen)
            if job is not None:
                found.append((enrolment, job))
        return found

    def _moves(
        self, chosen: AggregationFilter, *, leavers: bool
    ) -> list[tuple[Enrolment, Employment]]:
        """Leavings (or hires) read as enrolments dated on the day: see the contract."""
        found = []
        for job in self.employments:
            day = job.valid_to if leavers else job.valid_from
            if day is None or job.person in self.erased:
                continue
            same = [
                e
                for e in self.employments
                if e is not job and e.person == job.person and e.institution == job.institution
            ]
            # Going on (or having been) in the same institution the next (previous) day.
            near = day + timedelta(days=1 if leavers else -1)
            if any(
                e.valid_from <= near and (e.valid_to is None or e.valid_to >= near) for e in same
            ):
                continue
            if chosen.leaving_reasons is not None and job.leaving_reason not in (
                chosen.leaving_reasons
            ):
                continue
            if chosen.first_year is not None:
                started = min(e.valid_from for e in [job, *same])
                a_year_on = (started.year + 1, started.month, started.day)
                if ((day.year, day.month, day.day) < a_year_on) != chosen.first_year:
                    continue
            period = chosen.period
            if period is not None and period.from_ is not None and day < period.from_:
                continue
            if period is not None and period.to is not None and day > period.to:
                continue
            if _person_matches(job, chosen):
                found.append((Enrolment(job.person, "", "", day), job))
        return found

    def _feedback(self, chosen: AggregationFilter) -> list[tuple[Enrolment, Employment]]:
        """Feedback read as enrolments dated on its submission: see the contract."""
        found = []
        plain = chosen.model_copy(
            update={"feedback_kinds": None, "applied_at_work": None, "follow_up_window": None}
        )
        for given in self.feedback:
            if chosen.feedback_kinds is not None and given.kind not in chosen.feedback_kinds:
                continue
            if chosen.applied_at_work is not None and given.applied_at_work != (
                chosen.applied_at_work
            ):
                continue
            if chosen.follow_up_window is not None:
                month = given.submitted_on.year * 12 + given.submitted_on.month
                inside = any(
                    e.person == given.person
                    and e.course == given.course
                    and e.status in ("attended", "completed", "passed")
                    and 6 <= month - (e.status_date.year * 12 + e.status_date.month) <= 12
                    for e in self.enrolments
                )
                if inside != chosen.follow_up_window:
                    continue
            row = Enrolment(given.person, given.course, "", given.submitted_on, given.course_tags)
            job = self._matches(row, plain)
            if job is not None:
                found.append((row, job))
        return found

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """`POST /v1/aggregations/query` over the in-memory rows (every set in one call)."""
        self.calls += 1
        if query.group_by_sets is None:
            return self._aggregate(query)
        groups: list[Group] = []
        answer = self._aggregate(query.model_copy(update={"group_by": [], "group_by_sets": None}))
        for index, keys in enumerate(query.group_by_sets):
            one = self._aggregate(
                query.model_copy(update={"group_by": keys, "group_by_sets": None})
            )
            if not keys and query.metric != "people_with_frequency":
                one.groups = [Group(key={}, value=one.total)]
            groups += [g.model_copy(update={"set": index}) for g in one.groups]
        answer.groups = groups
        return answer

    def _aggregate(self, query: AggregationQuery) -> AggregationResult:
        matching = self._matching(query.filter, query.metric)
        dims = list(query.group_by)
        if query.metric == "people_with_frequency":
            return self._frequency(query, matching)
        groups: dict[tuple[Any, ...], set[Any] | list[float]] = {}
        everything: set[Any] | list[float] = set() if _distinct(query.metric) else []
        for enrolment, job in matching:
            unit = _unit(query.metric, enrolment, job)
            if unit is None:
                continue
            key = tuple(self._attribute(d, enrolment, job) for d in dims)
            bucket = groups.setdefault(key, set() if _distinct(query.metric) else [])
            _add(bucket, unit)
            _add(everything, unit)
        return AggregationResult(
            metric=query.metric,
            groups=[
                Group(key=dict(zip(dims, key, strict=True)), value=_measure(bucket))
                for key, bucket in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]])
            ]
            if dims
            else [],
            total=_measure(everything),
            cutoff_seq=self.seq,
        )

    def _frequency(
        self, query: AggregationQuery, matching: list[tuple[Enrolment, Employment]]
    ) -> AggregationResult:
        per_person_year: dict[tuple[str, int], list[tuple[Enrolment, Employment]]] = defaultdict(
            list
        )
        for enrolment, job in matching:
            per_person_year[(enrolment.person, enrolment.status_date.year)].append((enrolment, job))
        low = query.frequency.min_per_year if query.frequency else 1
        high = query.frequency.max_per_year if query.frequency else None
        # Every grouping is per calendar year (`year` is added to one that lacks it).
        dims = [*query.group_by, *([] if "year" in query.group_by else ["year"])]
        groups: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        everyone: set[str] = set()
        for (person, _year), items in per_person_year.items():
            # All the person's enrolments of the year count together, whatever their groups;
            # the person is then in every group of the year they have one in.
            count = len({id(enrolment) for enrolment, _job in items})
            if count < low or (high is not None and count > high):
                continue
            for enrolment, job in items:
                groups[tuple(self._attribute(d, enrolment, job) for d in dims)].add(person)
            everyone.add(person)
        return AggregationResult(
            metric=query.metric,
            groups=[
                Group(key=dict(zip(dims, key, strict=True)), value=len(people))
                for key, people in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]])
            ],
            total=len(everyone),
            cutoff_seq=self.seq,
        )

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """`POST /v1/aggregations/headcounts`: latest headcount on or before as_of per series."""
        self.calls += 1
        if query.group_by_sets is None:
            return self._headcounts(query)
        answer = self._headcounts(query.model_copy(update={"group_by": [], "group_by_sets": None}))
        groups: list[Group] = []
        for index, keys in enumerate(query.group_by_sets):
            one = self._headcounts(
                query.model_copy(update={"group_by": keys, "group_by_sets": None})
            )
            if not keys:
                one.groups = [Group(key={}, value=one.total)]
            groups += [g.model_copy(update={"set": index}) for g in one.groups]
        answer.groups = groups
        return answer

    def _headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        chosen = query.filter
        by_group = "position_group" in query.group_by or chosen.position_groups is not None
        by_role = "role" in query.group_by or chosen.roles is not None
        latest: dict[tuple[str, str | None, str | None], Headcount] = {}
        for row in self.headcount_rows:
            if row.as_of > query.as_of:
                continue
            if (row.position_group is not None) != by_group or (row.role is not None) != by_role:
                continue
            series = (row.institution, row.position_group, row.role)
            if series not in latest or latest[series].as_of < row.as_of:
                latest[series] = row
        groups: dict[tuple[Any, ...], float] = defaultdict(float)
        total = 0.0
        for row in latest.values():
            if chosen.institutions is not None and row.institution not in chosen.institutions:
                continue
            if chosen.sectors is not None and row.sector not in chosen.sectors:
                continue
            if (
                chosen.position_groups is not None
                and row.position_group not in chosen.position_groups
            ):
                continue
            if chosen.roles is not None and row.role not in chosen.roles:
                continue
            key = tuple(getattr(row, d) for d in query.group_by)
            groups[key] += row.value
            total += row.value
        return HeadcountResult(
            groups=[
                Group(key=dict(zip(query.group_by, key, strict=True)), value=value)
                for key, value in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]])
            ],
            total=total,
            as_of=query.as_of,
            cutoff_seq=self.seq,
        )

    async def head(self) -> int:
        """The change feed's head."""
        return self.seq

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Who an aggregation counted: pseudonymous people with their institution."""
        if not self.offers_members:
            raise ExplainUnavailable("learning-records offers no members endpoint")
        self.calls += 1
        seen: dict[tuple[str | None, str | None], Member] = {}
        for enrolment, job in self._matching(query.filter, query.metric):
            if query.metric in ("institutions", "municipalities"):
                if query.metric == "municipalities" and job.sector != "municipal":
                    continue
                member = Member(institution=job.institution)
            else:
                member = Member(person=enrolment.person, institution=job.institution)
            seen[(member.person, member.institution)] = member
        return MembersResult(
            members=sorted(seen.values(), key=lambda m: (m.institution or "", m.person or "")),
            cutoff_seq=self.seq,
        )

    def _attribute(self, dimension: str, enrolment: Enrolment, job: Employment) -> Any:
        if dimension == "year":
            return enrolment.status_date.year
        if dimension == "resort":
            return self.resort(job.institution)
        if dimension == "municipality":
            return _unit("municipalities", enrolment, job)
        return getattr(job, dimension)

    def change(self) -> None:
        """Move the change feed on (as any write in learning-records would)."""
        self.seq += 1


def _person_matches(job: Employment, chosen: AggregationFilter) -> bool:
    if chosen.institutions is not None and job.institution not in chosen.institutions:
        return False
    if chosen.sectors is not None and job.sector not in chosen.sectors:
        return False
    if chosen.roles is not None and not job.roles & set(chosen.roles):
        return False
    if chosen.position_groups is not None and job.position_group not in chosen.position_groups:
        return False
    if (
        chosen.management_levels is not None
        and job.management_level not in chosen.management_levels
    ):
        return False
    return chosen.civil_servant is None or job.civil_servant == chosen.civil_servant


def _distinct(metric: str) -> bool:
    return metric in (
        "people",
        "institutions",
        "municipalities",
        "sessions",
        "assessed_people",
        "leavers",
        "hires",
        "feedback_people",
    )


def _unit(metric: str, enrolment: Enrolment, job: Employment) -> Any:
    if metric in ("people", "assessed_people", "leavers", "hires", "feedback_people"):
        return enrolment.person
    if metric == "institutions":
        return job.institution
    if metric == "municipalities":
        return job.institution if job.sector == "municipal" else None
    if metric == "hours":
        return enrolment.hours
    if metric == "sessions":
        return f"{enrolment.course}/{enrolment.session}" if enrolment.session else None
    return 1.0


def _add(bucket: set[Any] | list[float], unit: Any) -> None:
    if isinstance(bucket, set):
        bucket.add(unit)
    else:
        bucket.append(float(unit))


def _measure(bucket: set[Any] | list[float]) -> float:
    return float(len(bucket)) if isinstance(bucket, set) else float(sum(bucket))


@dataclass
class MemoryCatalog:
    """An in-memory catalog: a plan's indicators and the institutions."""

    indicator_rows: list[IndicatorInfo] = field(default_factory=list)
    institution_rows: list[InstitutionInfo] = field(default_factory=list)
    calls: int = 0
    #: The catalog's version: a test moves it to say the catalog changed.
    version_number: int = 0
    #: Reference lists (e.g. position_groups): code -> (Latvian, English) name.
    reference_names: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    async def indicators(self, plan: str) -> list[IndicatorInfo]:
        """The plan's indicators."""
        self.calls += 1
        return [i for i in self.indicator_rows if i.plan == plan]

    async def institutions(self) -> list[InstitutionInfo]:
        """Every institution."""
        self.calls += 1
        return list(self.institution_rows)

    async def version(self) -> int:
        """The catalog's version."""
        return self.version_number

    async def names(self, list_code: str) -> dict[str, tuple[str, str]]:
        """A reference list's codes with their (Latvian, English) names."""
        return dict(self.reference_names.get(list_code, {}))
