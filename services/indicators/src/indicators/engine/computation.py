"""One indicator being computed: parameters, reference data, the questions to learning-records.

Everything is counted in learning-records (no rows of people leave it); the kinds
(`engine/kinds/`) choose the questions through a `Computation`, add up what may be added up
(sums of numerators and of denominators, never averages of percentages) and judge the value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any, cast

from indicators.definitions.spec import DefinitionSpec, InstitutionSet
from indicators.engine.results import BreakdownRow, IndicatorResult, Observation
from indicators.engine.status import exact, judge, judge_years, overall_of_years
from indicators.sources.protocols import RecordsSource
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target
from pilnveide_contracts.records import (
    AggregationFilter,
    AggregationQuery,
    AggregationResult,
    Group,
    GroupKey,
    HeadcountFilter,
    HeadcountQuery,
    HeadcountResult,
    Metric,
    Period,
)

#: What learning-records groups by. `resort` too: it counts each person once per resort (a
#: person who moved inside a resort is one person of it, not one per institution row).
RECORDS_DIMENSIONS: set[str] = {
    "institution",
    "resort",
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
    #: Language of titles and breakdown names: lv (default) or en.
    lang: str = "lv"


@dataclass
class Dataset:
    """Reference data a computation reads: institutions and hand-entered observations."""

    institutions: Mapping[str, InstitutionInfo] = field(default_factory=dict)
    observations: Sequence[Observation] = ()
    #: What `counts: learned` means (the service's `learned_statuses` setting).
    learned_statuses: tuple[str, ...] = ("completed", "attended", "passed")
    #: Names of coded breakdown rows from the catalog's reference lists, by dimension
    #: (position_group): code -> (Latvian, English).
    names: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)


def resort_of(institution: InstitutionInfo | None) -> str:
    """The resort (ministry) an institution belongs to; a ministry is its own resort."""
    if institution is None:
        return NO_RESORT
    if institution.resort:
        return institution.resort
    if institution.kind == "ministry":
        return institution.code
    return NO_RESORT


def with_resorts(rows: Iterable[InstitutionInfo]) -> dict[str, InstitutionInfo]:
    """Institutions by code, each with the head of its resort: the top of its parent chain.

    A ministry heads its own resort, and so does an institution others are placed under (the
    State Chancellery heads the Prime Minister's: VAS, PKC, KNAB), so its own staff count in it.
    A parent the catalog does not list is kept as the resort.
    """
    by_code = {row.code: row for row in rows}
    heads = {row.resort for row in by_code.values() if row.resort}
    found: dict[str, InstitutionInfo] = {}
    for code, row in by_code.items():
        top, seen = code, {code}
        while (up := by_code[top].resort if top in by_code else None) and up not in seen:
            seen.add(up)
            top = up
        heads_own = row.kind == "ministry" or code in heads
        resort = top if top != code or heads_own else None
        found[code] = row if resort == row.resort else row.model_copy(update={"resort": resort})
    return found


def in_set(institution: InstitutionInfo, chosen: InstitutionSet) -> bool:
    """Whether an institution belongs to a coverage rule's set."""
    if chosen.codes is not None and institution.code not in chosen.codes:
        return False
    if chosen.sectors is not None and institution.sector not in chosen.sectors:
        return False
    return chosen.kinds is None or institution.kind in chosen.kinds


def year_end(year: int) -> date:
    return date(year, 12, 31)


def share_of(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(Fraction(str(numerator)) * 100 / Fraction(str(denominator)))


#: Row keys for groups without a value: no employment valid on the date (so no institution
#: and no sector), or an employment that does not record a position group or level.
NO_EMPLOYMENT = "no_employment"
UNSPECIFIED = "unspecified"
#: Names of the keys that are not catalog codes, and of the sectors and levels (lv, en).
NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "sector": {
        "state": ("Valsts pārvalde", "State administration"),
        "municipal": ("Pašvaldības", "Municipalities"),
        "other": ("Citas iestādes", "Other institutions"),
    },
    "management_level": {
        "top": ("Augstākā līmeņa vadītāji", "Top managers"),
        "middle": ("Vidējā līmeņa vadītāji", "Middle managers"),
        "lower": ("Zemākā līmeņa vadītāji", "Lower managers"),
    },
    "*": {
        NO_EMPLOYMENT: ("Bez nodarbinātības ziņām", "No employment record"),
        UNSPECIFIED: ("Nav norādīts", "Not recorded"),
        NO_RESORT: ("Ārpus resoriem", "Outside any resort"),
    },
}


def key_of(dimension: str, value: Any) -> str:
    """A breakdown row's key for a group value; None gets an explicit key, never "None"."""
    if value is None and dimension == "resort":
        return NO_RESORT
    if value is None:
        return NO_EMPLOYMENT if dimension in ("institution", "sector") else UNSPECIFIED
    return str(value)


def group_key(group: Group, dimension: str) -> str:
    return key_of(dimension, group.key.get(dimension))


def per_set(groups: Sequence[Group], count: int) -> list[list[Group]]:
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
    ) -> AggregationFilter:
        """The definition's filter for a period, with the caller's institution scope applied."""
        chosen = self.spec.filter.model_copy(deep=True)
        chosen.statuses = self.spec.statuses(self.dataset.learned_statuses)
        chosen.period = Period(from_=start or self.period_from, to=end or self.period_to)
        if people_at is not None:
            # The people of a population on that date, where they are employed then.
            chosen.employment_as_of = people_at
            chosen.where_employed = True
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

    def metric_of(self, metric: Metric) -> Metric:
        """The records metric: people are counted from assessments when the source says so."""
        if self.spec.source == "assessments" and metric == "people":
            return "assessed_people"
        return metric

    async def aggregate(
        self,
        metric: Metric,
        records_filter: AggregationFilter,
        group_by: Sequence[str] = (),
        *,
        frequency: Any = None,
    ) -> AggregationResult:
        """One aggregation; an empty institution scope answers zero without asking."""
        metric = self.metric_of(metric)
        if records_filter.institutions == []:
            return AggregationResult(metric=metric, groups=[], total=0, cutoff_seq=0)
        answer = await self.records.aggregate(
            AggregationQuery(
                metric=metric,
                filter=records_filter,
                group_by=cast(list[GroupKey], list(group_by)),
                frequency=frequency,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer

    async def aggregate_sets(
        self,
        metric: Metric,
        records_filter: AggregationFilter,
        sets: Sequence[Sequence[str]],
        *,
        frequency: Any = None,
    ) -> tuple[AggregationResult, list[list[Group]]]:
        """One aggregation answering every grouping set at once: the answer, groups per set."""
        metric = self.metric_of(metric)
        if records_filter.institutions == []:
            return AggregationResult(metric=metric, groups=[], total=0, cutoff_seq=0), [
                [] for _ in sets
            ]
        answer = await self.records.aggregate(
            AggregationQuery(
                metric=metric,
                filter=records_filter,
                group_by_sets=cast(list[list[GroupKey]], [list(k) for k in sets]) if sets else None,
                frequency=frequency,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer, per_set(answer.groups, len(sets))

    async def headcount_sets(
        self, as_of: date, headcount_filter: HeadcountFilter, sets: Sequence[Sequence[str]]
    ) -> tuple[HeadcountResult, list[list[Group]]]:
        """One headcount question answering every grouping set at once."""
        if headcount_filter.institutions == []:
            return HeadcountResult(as_of=as_of, groups=[], total=0, cutoff_seq=0), [
                [] for _ in sets
            ]
        answer = await self.records.headcounts(
            HeadcountQuery(
                as_of=as_of,
                filter=headcount_filter,
                group_by_sets=cast(Any, [list(k) for k in sets]) if sets else None,
            )
        )
        self.cutoffs.append(answer.cutoff_seq)
        return answer, per_set(answer.groups, len(sets))

    async def headcount(
        self, as_of: date, headcount_filter: HeadcountFilter, group_by: Sequence[str] = ()
    ) -> HeadcountResult:
        """One headcount question; an empty institution scope answers zero without asking."""
        if headcount_filter.institutions == []:
            return HeadcountResult(as_of=as_of, groups=[], total=0, cutoff_seq=0)
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
        """A readable name of a breakdown row's key in the asked language."""
        english = self.params.lang == "en"
        known = (
            self.dataset.names.get(dimension, {}).get(key)
            or NAMES.get(dimension, {}).get(key)
            or NAMES["*"].get(key)
        )
        if known is not None:
            return known[1] if english else known[0]
        if dimension in ("institution", "resort"):
            institution = self.dataset.institutions.get(key)
            return institution.name if institution else None
        if dimension == "year":
            return key
        return None

    def rows_from_groups(self, dimension: str, groups: Sequence[Group]) -> list[BreakdownRow]:
        """Breakdown rows straight from one-dimension groups."""
        rows = [
            BreakdownRow(
                key=group_key(g, dimension),
                name=self.name(dimension, group_key(g, dimension)),
                value=g.value,
            )
            for g in groups
        ]
        return sorted(rows, key=lambda r: r.key)

    def per_resort(self, by_institution: Mapping[str, float]) -> dict[str, float]:
        """Sums of additive institution values (headcounts) per resort; never people counts,
        which records counts per resort (a person in two institutions of one is one)."""
        sums: dict[str, float] = defaultdict(float)
        for code, value in by_institution.items():
            sums[resort_of(self.dataset.institutions.get(code))] += value
        return dict(sums)

    def resort_rows(
        self,
        numerators: Mapping[str, float],
        denominators: Mapping[str, float] | None = None,
    ) -> list[BreakdownRow]:
        """Resort rows from values per resort (with a denominator per resort: shares)."""
        rows = []
        for resort in sorted(set(numerators) | set(denominators or {})):
            numerator = numerators.get(resort, 0.0)
            denominator = None if denominators is None else denominators.get(resort)
            rows.append(
                BreakdownRow(
                    key=resort,
                    name=self.name("resort", resort),
                    value=share_of(numerator, denominator)
                    if denominator is not None
                    else numerator,
                    numerator=numerator,
                    denominator=denominator,
                )
            )
        return rows

    def years(self) -> list[int]:
        """Calendar years of the period."""
        return list(range(self.period_from.year, self.period_to.year + 1))

    def title(self) -> str:
        """The indicator's title: the plan's (Latvian) words, or the English title for en."""
        if self.params.lang == "en":
            return self.spec.title or self.info.title or self.spec.text or ""
        return self.spec.text or self.info.title or self.spec.title or ""

    def result(self, **values: Any) -> IndicatorResult:
        """The result with everything common filled in, judged against the target."""
        result = IndicatorResult(
            code=self.code,
            title=self.title(),
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
            if target.baseline is None and target.baseline_year in values:
                # "BV": the baseline is the value measured in that year (a "+5 %" after it).
                measured = values[target.baseline_year]
                target = target.model_copy(
                    update={"baseline": None if measured is None else float(measured)}
                )
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


def needs_years(run: Computation, dims: list[str]) -> bool:
    """Whether the per-year series is needed (year breakdown, series, yearly targets)."""
    return "year" in dims or run.params.series or bool(run.target and run.target.yearly)
