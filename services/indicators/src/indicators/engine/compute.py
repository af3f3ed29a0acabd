"""Compute one indicator from a definition, the records and the catalog.

Everything is counted in learning-records (no rows of people leave it); this module chooses the
queries, adds up what may be added up (sums of numerators and of denominators, never averages of
percentages), applies coverage rules and judges the value against the target.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from fractions import Fraction
from typing import Any, Literal, cast

from indicators.definitions.spec import DefinitionSpec, InstitutionSet
from indicators.engine.results import (
    Breakdown,
    BreakdownRow,
    IndicatorResult,
    Observation,
    SeriesPoint,
    Shortfall,
)
from indicators.engine.status import exact, judge, judge_years, overall_of_years
from indicators.sources.protocols import RecordsSource
from indicators.sources.types import (
    AggregationQuery,
    AggregationResult,
    Group,
    HeadcountFilter,
    HeadcountQuery,
    HeadcountResult,
    IndicatorInfo,
    InstitutionInfo,
    Metric,
    Period,
    RecordsDimension,
    RecordsFilter,
    Target,
)

RECORDS_DIMENSIONS: set[str] = {
    "institution",
    "position_group",
    "sector",
    "year",
    "management_level",
}
HEADCOUNT_DIMENSIONS: set[str] = {"institution", "position_group", "sector"}
NO_RESORT = "-"


@dataclass(frozen=True)
class Params:
    """What a caller asks for: the as-of date, an optional period, breakdowns and a scope."""

    as_of: date
    period_from: date | None = None
    period_to: date | None = None
    #: None: the definition's breakdowns; otherwise exactly these.
    breakdowns: tuple[str, ...] | None = None
    #: False: totals only (plan progress, lists); True: breakdowns and time series too.
    detail: bool = True
    #: Institution restriction of the caller (None: unrestricted).
    scope: frozenset[str] | None = None
    #: Also the cumulative series (distinct counts need one question per year).
    series: bool = False


@dataclass
class Dataset:
    """Reference data a computation reads: institutions and hand-entered observations."""

    institutions: Mapping[str, InstitutionInfo] = field(default_factory=dict)
    observations: Sequence[Observation] = ()
    #: What `counts: learned` means (the service's `learned_statuses` setting).
    learned_statuses: tuple[str, ...] = ("completed", "attended", "passed")


def resort_of(institution: InstitutionInfo | None) -> str:
    """The resort (ministry) an institution belongs to; a ministry is its own resort."""
    if institution is None:
        return NO_RESORT
    if institution.resort:
        return institution.resort
    if institution.kind == "ministry":
        return institution.code
    return NO_RESORT


def in_set(institution: InstitutionInfo, chosen: InstitutionSet) -> bool:
    """Whether an institution belongs to a coverage rule's set."""
    if chosen.codes is not None and institution.code not in chosen.codes:
        return False
    if chosen.sectors is not None and institution.sector not in chosen.sectors:
        return False
    return chosen.kinds is None or institution.kind in chosen.kinds


def _year_end(year: int) -> date:
    return date(year, 12, 31)


def _share(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(Fraction(str(numerator)) * 100 / Fraction(str(denominator)))


def _key(group: Group, dimension: str) -> str:
    return str(group.key.get(dimension))


def _per_set(groups: Sequence[Group], count: int) -> list[list[Group]]:
    """Groups of a `group_by_sets` answer sorted into their sets."""
    found: list[list[Group]] = [[] for _ in range(count)]
    for group in groups:
        if group.set is not None and 0 <= group.set < count:
            found[group.set].append(group)
    return found


class Computation:
    """One indicator being computed: its definition, parameters and the answers gathered."""

    def __init__(
        self,
        code: str,
        spec: DefinitionSpec,
        version: int,
        info: IndicatorInfo,
        params: Params,
        records: RecordsSource,
        dataset: Dataset,
    ) -> None:
        self.code, self.spec, self.version, self.info = code, spec, version, info
        self.params, self.records, self.dataset = params, records, dataset
        self.target: Target | None = spec.target or info.target
        self.cutoffs: list[int] = []
        self.as_of = params.as_of
        self.period_from, self.period_to = self._period()

    # ---- the question ---------------------------------------------------------------------

    def _period(self) -> tuple[date, date]:
        as_of, spec = self.params.as_of, self.spec
        if self.params.period_from or self.params.period_to:
            start = self.params.period_from or date(self.info.start_year, 1, 1)
            end = min(self.params.period_to or as_of, as_of)
        elif spec.filter.period is not None and (spec.filter.period.from_ or spec.filter.period.to):
            start = spec.filter.period.from_ or date(self.info.start_year, 1, 1)
            end = min(spec.filter.period.to or as_of, as_of)
        elif spec.cumulative:
            start, end = date(self.info.start_year, 1, 1), as_of
        else:
            start, end = date(as_of.year, 1, 1), as_of
        return start, end

    def _institutions(self, wanted: list[str] | None) -> list[str] | None:
        scope = self.params.scope
        if scope is None:
            return wanted
        if wanted is None:
            return sorted(scope)
        return sorted(set(wanted) & scope)

    def records_filter(
        self, *, start: date | None = None, end: date | None = None, people_at: date | None = None
    ) -> RecordsFilter:
        """The definition's filter for a period, with the caller's institution scope applied."""
        chosen = self.spec.filter.model_copy(deep=True)
        chosen.statuses = self.spec.statuses(self.dataset.learned_statuses)
        chosen.period = Period(from_=start or self.period_from, to=end or self.period_to)
        if people_at is not None:
            chosen.employment_as_of = people_at
        elif self.spec.attribute_people_at == "as_of" and chosen.employment_as_of is None:
            chosen.employment_as_of = end or self.period_to
        chosen.institutions = self._institutions(chosen.institutions)
        return chosen

    def headcount_filter(self, base: HeadcountFilter) -> HeadcountFilter:
        """A denominator's headcount filter with the caller's institution scope applied."""
        chosen = base.model_copy(deep=True)
        chosen.institutions = self._institutions(self.population_institutions(chosen.institutions))
        return chosen

    def population_institutions(self, wanted: list[str] | None) -> list[str] | None:
        """A denominator's institutions: its filter's, within its institution set if it has one."""
        denominator = self.spec.denominator
        if denominator is None or denominator.institution_set is None:
            return wanted
        chosen = {
            i.code
            for i in self.dataset.institutions.values()
            if in_set(i, denominator.institution_set)
        }
        if wanted is not None:
            chosen &= set(wanted)
        return sorted(chosen)

    # ---- talking to the records -----------------------------------------------------------

    async def aggregate(
        self,
        metric: Metric,
        records_filter: RecordsFilter,
        group_by: Sequence[str] = (),
        *,
        frequency: Any = None,
    ) -> AggregationResult:
        """One aggregation; an empty institution scope answers zero without asking."""
        if records_filter.institutions == []:
            return AggregationResult(metric=metric, groups=[], total=0)
        answer = await self.records.aggregate(
            AggregationQuery(
                metric=metric,
                filter=records_filter,
                group_by=cast(list[RecordsDimension], list(group_by)),
                frequency=frequency,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer

    async def aggregate_sets(
        self,
        metric: Metric,
        records_filter: RecordsFilter,
        sets: Sequence[Sequence[str]],
        *,
        frequency: Any = None,
    ) -> tuple[AggregationResult, list[list[Group]]]:
        """One aggregation answering every grouping set at once: the answer, groups per set."""
        if records_filter.institutions == []:
            return AggregationResult(metric=metric, groups=[], total=0), [[] for _ in sets]
        answer = await self.records.aggregate(
            AggregationQuery(
                metric=metric,
                filter=records_filter,
                group_by_sets=cast(list[list[RecordsDimension]], [list(k) for k in sets])
                if sets
                else None,
                frequency=frequency,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer, _per_set(answer.groups, len(sets))

    async def headcount_sets(
        self, as_of: date, headcount_filter: HeadcountFilter, sets: Sequence[Sequence[str]]
    ) -> tuple[HeadcountResult, list[list[Group]]]:
        """One headcount question answering every grouping set at once."""
        if headcount_filter.institutions == []:
            return HeadcountResult(as_of=as_of, groups=[], total=0), [[] for _ in sets]
        answer = await self.records.headcounts(
            HeadcountQuery(
                as_of=as_of,
                filter=headcount_filter,
                group_by_sets=cast(Any, [list(k) for k in sets]) if sets else None,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer, _per_set(answer.groups, len(sets))

    async def headcount(
        self, as_of: date, headcount_filter: HeadcountFilter, group_by: Sequence[str] = ()
    ) -> HeadcountResult:
        """One headcount question; an empty institution scope answers zero without asking."""
        if headcount_filter.institutions == []:
            return HeadcountResult(as_of=as_of, groups=[], total=0)
        answer = await self.records.headcounts(
            HeadcountQuery(as_of=as_of, filter=headcount_filter, group_by=cast(Any, list(group_by)))
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer

    # ---- shapes of the result -------------------------------------------------------------

    def dimensions(self) -> list[str]:
        """The breakdown dimensions to compute (none unless detail is asked for)."""
        if not self.params.detail:
            return []
        wanted: Iterable[str] = (
            self.params.breakdowns if self.params.breakdowns is not None else self.spec.breakdowns
        )
        return list(dict.fromkeys(wanted))

    def name(self, dimension: str, key: str) -> str | None:
        """A readable name for an institution or resort key."""
        if dimension in ("institution", "resort"):
            institution = self.dataset.institutions.get(key)
            return institution.name if institution else None
        return None

    def rows_from_groups(self, dimension: str, groups: Sequence[Group]) -> list[BreakdownRow]:
        """Breakdown rows straight from one-dimension groups."""
        rows = [
            BreakdownRow(
                key=_key(g, dimension), name=self.name(dimension, _key(g, dimension)), value=g.value
            )
            for g in groups
        ]
        return sorted(rows, key=lambda r: r.key)

    def resort_rows(
        self, by_institution: Mapping[str, tuple[float, float | None]]
    ) -> list[BreakdownRow]:
        """Resort rows as sums of institution numerators and denominators."""
        numerators: dict[str, float] = defaultdict(float)
        denominators: dict[str, float | None] = {}
        for code, (numerator, denominator) in by_institution.items():
            resort = resort_of(self.dataset.institutions.get(code))
            numerators[resort] += numerator
            if denominator is None or denominators.get(resort, 0.0) is None:
                denominators[resort] = None
            else:
                denominators[resort] = (denominators.get(resort) or 0.0) + denominator
        rows = []
        for resort in sorted(numerators):
            denominator = denominators.get(resort)
            rows.append(
                BreakdownRow(
                    key=resort,
                    name=self.name("resort", resort),
                    value=_share(numerators[resort], denominator)
                    if denominator is not None
                    else numerators[resort],
                    numerator=numerators[resort],
                    denominator=denominator,
                )
            )
        return rows

    def years(self) -> list[int]:
        """Calendar years of the period."""
        return list(range(self.period_from.year, self.period_to.year + 1))

    def result(self, **values: Any) -> IndicatorResult:
        """The result with everything common filled in, judged against the target."""
        result = IndicatorResult(
            code=self.code,
            title=self.spec.title or self.info.title,
            plan=self.info.plan,
            priority=self.info.priority,
            measure=self.info.measure,
            kind=self.spec.kind,
            definition_version=self.version,
            target=self.target,
            target_kind=self.target.kind if self.target else "none",
            deadline_year=self.info.deadline_year,
            as_of=self.as_of,
            period_from=self.period_from,
            period_to=self.period_to,
            cutoff_seq=max(self.cutoffs) if self.cutoffs else None,
            institutions_scope=sorted(self.params.scope) if self.params.scope is not None else None,
            status="no_data",
            **values,
        )
        return result

    def judge(self, result: IndicatorResult, judged: Fraction | None) -> IndicatorResult:
        """Set status, expected-by-now and reason (per year for yearly targets)."""
        target = self.target
        if target is not None and target.yearly:
            values = {p.year: exact(p.value) for p in result.per_year}
            result.yearly_targets = judge_years(values, target, as_of=self.as_of)
            result.status = overall_of_years(result.yearly_targets, self.as_of)
            result.status_reason = "the latest measured year judged against that year's target"
            return result
        status, expected, reason = judge(
            judged,
            target,
            as_of=self.as_of,
            start_year=self.info.start_year,
            deadline_year=self.info.deadline_year,
        )
        result.status = status
        result.expected_by_now = None if expected is None else float(expected)
        result.status_reason = reason
        return result


async def compute(
    code: str,
    spec: DefinitionSpec,
    version: int,
    info: IndicatorInfo,
    params: Params,
    records: RecordsSource,
    dataset: Dataset | None = None,
) -> IndicatorResult:
    """Compute one indicator for the given parameters."""
    dataset = dataset or Dataset()
    result = await _compute_once(code, spec, version, info, params, records, dataset)
    deadline = date(info.deadline_year, 12, 31) if info.deadline_year else None
    yearly = bool(result.target and result.target.yearly)
    if result.status == "achieved" and deadline and params.as_of > deadline and not yearly:
        # Met now, past the deadline: was it met by the deadline? If not, it was met late.
        period_to = (
            params.period_to if params.period_to is None else min(params.period_to, deadline)
        )
        at_deadline = await _compute_once(
            code,
            spec,
            version,
            info,
            replace(params, as_of=deadline, period_to=period_to, detail=False, series=False),
            records,
            dataset,
        )
        result.cutoff_seq = max(
            [s for s in (result.cutoff_seq, at_deadline.cutoff_seq) if s is not None], default=None
        )
        if at_deadline.status != "achieved":
            result.status = "achieved_late"
            result.status_reason = (
                f"{result.status_reason}; not yet met on {deadline.isoformat()}, the deadline"
            )
    return result


async def _compute_once(
    code: str,
    spec: DefinitionSpec,
    version: int,
    info: IndicatorInfo,
    params: Params,
    records: RecordsSource,
    dataset: Dataset,
) -> IndicatorResult:
    run = Computation(code, spec, version, info, params, records, dataset)
    kind = spec.kind
    if kind == "manual":
        return _manual(run)
    if kind == "share":
        return await _share_kind(run)
    if kind in ("coverage_per_institution", "coverage_per_resort"):
        return await _coverage(run)
    if kind == "people_with_frequency":
        return await _frequency(run)
    return await _counted(run)


# ---- distinct people, distinct institutions, events ---------------------------------------


def _needs_years(run: Computation, dims: list[str]) -> bool:
    """Whether the per-year series is needed (year breakdown, series, yearly targets)."""
    return "year" in dims or run.params.series or bool(run.target and run.target.yearly)


async def _counted(run: Computation) -> IndicatorResult:
    spec = run.spec
    metric: Metric
    if spec.kind == "distinct_people":
        metric, unit, additive = "people", "people", False
    elif spec.kind == "distinct_institutions":
        metric, unit, additive = spec.unit, spec.unit, False
    else:
        metric, unit, additive = spec.metric, spec.metric, True
    dims = run.dimensions()
    needs_years = _needs_years(run, dims)
    queried = {d for d in dims if d in RECORDS_DIMENSIONS}
    if "resort" in dims:
        queried.add("institution")
    if needs_years:
        queried.add("year")
    base = run.records_filter()
    grouped = sorted(queried)
    # One question for the total and every breakdown (group_by_sets).
    jobs: dict[str, Any] = {"total": run.aggregate_sets(metric, base, [[d] for d in grouped])}
    if spec.kind == "distinct_people" and spec.represented:
        jobs["represented"] = run.aggregate(spec.represented, base)
    cumulative_years = run.years() if run.params.series and not additive else []
    for year in cumulative_years:
        jobs[f"cum{year}"] = run.aggregate(
            metric, run.records_filter(end=min(_year_end(year), run.period_to))
        )
    answers = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    total: AggregationResult = answers["total"][0]
    by_dim = dict(zip(grouped, answers["total"][1], strict=True))
    extra: dict[str, Any] = {}
    if "represented" in answers:
        extra[f"{spec.represented}_represented"] = answers["represented"].total
    result = run.result(value=total.total, numerator=total.total, unit=unit, extra=extra)
    for dim in dims:
        if dim == "resort":
            by_institution = {
                _key(g, "institution"): (g.value, None) for g in by_dim["institution"]
            }
            rows = run.resort_rows(by_institution)
            for row in rows:
                row.denominator = None
            result.breakdowns.append(Breakdown(dimension="resort", rows=rows))
        elif dim in by_dim:
            result.breakdowns.append(
                Breakdown(dimension=dim, rows=run.rows_from_groups(dim, by_dim[dim]))
            )
    if "year" in by_dim:
        per_year = {int(g.key["year"]): g.value for g in by_dim["year"]}
        result.per_year = [SeriesPoint(year=y, value=per_year.get(y, 0.0)) for y in run.years()]
        if additive:
            running = 0.0
            for point in result.per_year:
                running += point.value or 0.0
                result.cumulative.append(SeriesPoint(year=point.year, value=running))
    for year in cumulative_years:
        result.cumulative.append(SeriesPoint(year=year, value=answers[f"cum{year}"].total))
    return run.judge(result, exact(total.total))


# ---- shares -------------------------------------------------------------------------------


def _numerator_filter(
    run: Computation, start: date | None, end: date, people_at: date
) -> RecordsFilter:
    """The share's numerator: the definition's filter within the denominator's population."""
    chosen = run.records_filter(start=start, end=end, people_at=people_at)
    denominator = run.spec.denominator
    if denominator is not None and denominator.source == "headcount":
        population = denominator.filter
        if chosen.roles is None and population.roles is not None:
            chosen.roles = list(population.roles)
        if chosen.position_groups is None and population.position_groups is not None:
            chosen.position_groups = list(population.position_groups)
        if chosen.sectors is None and population.sectors is not None:
            chosen.sectors = list(population.sectors)
        institutions = run.population_institutions(population.institutions)
        if institutions is not None:
            wanted = set(institutions)
            chosen.institutions = sorted(
                wanted if chosen.institutions is None else wanted & set(chosen.institutions)
            )
    return chosen


async def _share_kind(run: Computation) -> IndicatorResult:
    spec = run.spec
    denominator = spec.denominator
    assert denominator is not None
    counted_at = min(denominator.as_of or run.period_to, run.period_to)
    numerator_filter = _numerator_filter(run, None, run.period_to, counted_at)
    headcount_filter = run.headcount_filter(denominator.filter)
    dims = run.dimensions()
    needs_years = _needs_years(run, dims)
    by_headcount = denominator.source == "headcount"

    grouped = {d for d in dims if d in RECORDS_DIMENSIONS and d != "year"}
    if "resort" in dims:
        grouped.add("institution")
    years = run.years() if needs_years else []
    # People who learnt in each year (counted where they work on the count date), over the
    # headcount at each year's end: the numerator's breakdowns and years in one question, the
    # denominator's breakdowns in another.
    numerator_sets = sorted(grouped) + (["year"] if years else [])
    denominator_sets = [d for d in sorted(grouped) if d in HEADCOUNT_DIMENSIONS]
    jobs: dict[str, Any] = {
        "num": run.aggregate_sets("people", numerator_filter, [[d] for d in numerator_sets])
    }
    if by_headcount:
        jobs["den"] = run.headcount_sets(
            counted_at, headcount_filter, [[d] for d in denominator_sets]
        )
    for year in years:
        end = min(_year_end(year), run.period_to)
        if run.params.series:
            jobs[f"cum:{year}"] = run.aggregate("people", _numerator_filter(run, None, end, end))
        if by_headcount:
            jobs[f"yden:{year}"] = run.headcount(end, headcount_filter)
    gathered = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    answers: dict[str, Any] = {}
    groups_of: dict[str, list[Group]] = {}
    for side, names in (("num", numerator_sets), ("den", denominator_sets)):
        if side in gathered:
            answer, per_set = gathered.pop(side)
            answers[side] = answer
            groups_of.update({f"{side}:{d}": g for d, g in zip(names, per_set, strict=True)})
    answers.update(gathered)

    def denominator_total(key: str) -> float | None:
        if not by_headcount:
            # A hand-entered population is national: it cannot be split by institution.
            return None if run.params.scope is not None else denominator.value
        return answers[key].total if key in answers else None

    numerator = answers["num"].total
    total_denominator = denominator_total("den")
    value = _share(numerator, total_denominator)
    result = run.result(
        value=value, numerator=numerator, denominator=total_denominator, unit="percent"
    )
    if not by_headcount:
        result.extra["denominator_reference"] = denominator.reference
    for dim in dims:
        if dim == "year":
            continue
        if dim == "resort":
            nums = {_key(g, "institution"): g.value for g in groups_of["num:institution"]}
            dens = (
                {_key(g, "institution"): g.value for g in groups_of["den:institution"]}
                if "den:institution" in groups_of
                else {}
            )
            pairs: dict[str, tuple[float, float | None]] = {
                code: (nums.get(code, 0.0), dens.get(code) if by_headcount else None)
                for code in set(nums) | set(dens)
            }
            result.breakdowns.append(Breakdown(dimension="resort", rows=run.resort_rows(pairs)))
            continue
        if f"num:{dim}" not in groups_of:
            continue
        nums = {_key(g, dim): g.value for g in groups_of[f"num:{dim}"]}
        dens = (
            {_key(g, dim): g.value for g in groups_of[f"den:{dim}"]}
            if f"den:{dim}" in groups_of
            else {}
        )
        rows = []
        for key in sorted(set(nums) | set(dens)):
            den = dens.get(key) if f"den:{dim}" in groups_of else None
            rows.append(
                BreakdownRow(
                    key=key,
                    name=run.name(dim, key),
                    value=_share(nums.get(key, 0.0), den),
                    numerator=nums.get(key, 0.0),
                    denominator=den,
                )
            )
        result.breakdowns.append(Breakdown(dimension=dim, rows=rows))
    for year in years:
        year_den = denominator_total(f"yden:{year}") if by_headcount else denominator_total("")
        year_num = next((g.value for g in groups_of["num:year"] if int(g.key["year"]) == year), 0.0)
        result.per_year.append(
            SeriesPoint(
                year=year,
                value=_share(year_num, year_den),
                numerator=year_num,
                denominator=year_den,
            )
        )
        if f"cum:{year}" in answers:
            cum_num = answers[f"cum:{year}"].total
            result.cumulative.append(
                SeriesPoint(
                    year=year,
                    value=_share(cum_num, year_den),
                    numerator=cum_num,
                    denominator=year_den,
                )
            )
    if "year" in dims:
        result.breakdowns.append(
            Breakdown(
                dimension="year",
                rows=[
                    BreakdownRow(
                        key=str(p.year),
                        value=p.value,
                        numerator=p.numerator,
                        denominator=p.denominator,
                    )
                    for p in result.per_year
                ],
            )
        )
    judged = (
        Fraction(str(numerator)) * 100 / Fraction(str(total_denominator))
        if total_denominator
        else None
    )
    if not total_denominator:
        result.status_reason = "no denominator"
    return run.judge(result, judged)


# ---- coverage rules -----------------------------------------------------------------------


async def _coverage(run: Computation) -> IndicatorResult:
    spec = run.spec
    rule = spec.coverage
    assert rule is not None
    per_resort = spec.kind == "coverage_per_resort"
    unit_name: Literal["institution", "resort"]
    chosen = [
        i
        for i in run.dataset.institutions.values()
        if in_set(i, rule.institution_set)
        and (run.params.scope is None or i.code in run.params.scope)
    ]
    chosen_codes = sorted(i.code for i in chosen)
    people_filter = run.records_filter(people_at=run.period_to)
    if people_filter.institutions is None:
        people_filter.institutions = chosen_codes
    else:
        people_filter.institutions = sorted(set(people_filter.institutions) & set(chosen_codes))
    total, (by_institution,) = await run.aggregate_sets("people", people_filter, [["institution"]])
    counts: dict[str, float] = defaultdict(float)
    for group in by_institution:
        counts[_key(group, "institution")] += group.value
    if per_resort:
        units: dict[str, float] = defaultdict(float)
        for institution in chosen:
            units[resort_of(institution)] += counts.get(institution.code, 0.0)
        units.pop(NO_RESORT, None)
        unit_name = "resort"
    else:
        units = {code: counts.get(code, 0.0) for code in chosen_codes}
        unit_name = "institution"
    covered = [code for code, n in units.items() if n >= rule.per_unit_min]
    size = len(units)
    result = run.result(
        value=float(len(covered)) if size else None,
        numerator=float(len(covered)),
        denominator=float(size) if size else None,
        unit=f"{unit_name}s covered",
        extra={
            "people_total": total.total,
            "per_unit_min": rule.per_unit_min,
            "total_min": rule.total_min,
        },
    )
    result.shortfall = [
        Shortfall(
            unit=unit_name,
            code=code,
            name=run.name(unit_name, code),
            value=n,
            required=rule.per_unit_min,
        )
        for code, n in sorted(units.items())
        if n < rule.per_unit_min
    ]
    if run.params.detail:
        result.breakdowns.append(
            Breakdown(
                dimension=unit_name,
                rows=[
                    BreakdownRow(
                        key=code,
                        name=run.name(unit_name, code),
                        value=n,
                        numerator=n,
                        meets=n >= rule.per_unit_min,
                    )
                    for code, n in sorted(units.items())
                ],
            )
        )
    if not size:
        result.status_reason = "the institution set is empty"
        return run.judge(result, None)
    progress = Fraction(len(covered), size)
    if rule.total_min:
        progress = min(progress, Fraction(str(total.total)) / Fraction(str(rule.total_min)))
    result.extra["progress_percent"] = float(progress * 100)
    return run.judge(result, progress * 100)


# ---- people with a frequency --------------------------------------------------------------


async def _frequency(run: Computation) -> IndicatorResult:
    spec = run.spec
    reference_year = run.period_to.year
    dims = run.dimensions()
    base = run.records_filter()
    grouped = sorted({d for d in dims if d in RECORDS_DIMENSIONS and d != "year"})
    if "resort" in dims and "institution" not in grouped:
        grouped = sorted([*grouped, "institution"])
    _answer, per_set = await run.aggregate_sets(
        "people_with_frequency",
        base,
        [["year"], *[[d, "year"] for d in grouped]],
        frequency=spec.frequency,
    )
    answers = dict(zip(["year", *grouped], per_set, strict=True))
    per_year = {int(g.key["year"]): g.value for g in answers["year"]}
    value = per_year.get(reference_year, 0.0)
    result = run.result(
        value=value, numerator=value, unit="people", extra={"reference_year": reference_year}
    )
    result.per_year = [SeriesPoint(year=y, value=per_year.get(y, 0.0)) for y in run.years()]
    for dim in dims:
        if dim == "year":
            result.breakdowns.append(
                Breakdown(
                    dimension="year",
                    rows=[BreakdownRow(key=str(p.year), value=p.value) for p in result.per_year],
                )
            )
            continue
        source = "institution" if dim == "resort" else dim
        if source not in answers:
            continue
        groups = [g for g in answers[source] if int(g.key.get("year", 0)) == reference_year]
        if dim == "resort":
            pairs = {_key(g, "institution"): (g.value, None) for g in groups}
            result.breakdowns.append(Breakdown(dimension="resort", rows=run.resort_rows(pairs)))
        else:
            result.breakdowns.append(
                Breakdown(dimension=dim, rows=run.rows_from_groups(dim, groups))
            )
    return run.judge(result, exact(value))


# ---- hand-reported ------------------------------------------------------------------------


def _manual(run: Computation) -> IndicatorResult:
    seen = sorted(
        (o for o in run.dataset.observations if o.observed_on <= run.as_of),
        key=lambda o: o.observed_on,
    )
    latest = seen[-1] if seen else None
    unit = {"number": "number", "share": "percent", "milestone": "milestone", "score": "score"}[
        run.spec.value_kind
    ]
    result = run.result(value=latest.value if latest else None, unit=unit, observation=latest)
    result.period_from = None
    by_year: dict[int, float | None] = {}
    for observation in seen:
        by_year[observation.observed_on.year] = observation.value
    result.per_year = [SeriesPoint(year=y, value=v) for y, v in sorted(by_year.items())]
    if latest is None:
        result.status_reason = "no observation entered yet"
    return run.judge(result, exact(latest.value) if latest and latest.value is not None else None)


def counted_query(
    code: str, spec: DefinitionSpec, info: IndicatorInfo, params: Params, dataset: Dataset
) -> AggregationQuery | None:
    """The aggregation whose members an explain view lists (None for hand-reported values)."""
    run = Computation(code, spec, 0, info, params, _NoRecords(), dataset)
    if spec.kind == "manual":
        return None
    if spec.kind == "share":
        return AggregationQuery(
            metric="people", filter=_numerator_filter(run, None, run.period_to, run.period_to)
        )
    if spec.kind in ("coverage_per_institution", "coverage_per_resort"):
        return AggregationQuery(metric="people", filter=run.records_filter(people_at=run.period_to))
    if spec.kind == "distinct_institutions":
        return AggregationQuery(metric=spec.unit, filter=run.records_filter())
    return AggregationQuery(metric="people", filter=run.records_filter())


class _NoRecords:
    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        raise NotImplementedError

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        raise NotImplementedError

    async def head(self) -> int:
        raise NotImplementedError

    async def members(self, query: AggregationQuery) -> Any:
        raise NotImplementedError
