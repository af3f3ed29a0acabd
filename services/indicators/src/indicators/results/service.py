"""Serve results: catalog data reused until the catalog's version moves, results cached by
feed head, never stale.

Every request asks learning-records for its change-feed head (cheap); a cached result is used
only when it was computed at that same head with the same definition version and parameters,
so a result is never served from before the latest change.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session

from indicators.definitions import service as definitions
from indicators.definitions.models import IndicatorDefinition
from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute, counted_query, with_resorts
from indicators.engine.norms import NormsResult, annex3_norms
from indicators.engine.results import IndicatorResult
from indicators.observations import service as observations
from indicators.settings import IndicatorsSettings
from indicators.sources.protocols import (
    CatalogSource,
    ExplainUnavailable,
    PlanNotFound,
    RecordsSource,
    SourceUnavailable,
)
from indicators.sources.types import IndicatorInfo, InstitutionInfo
from pilnveide_contracts.records import Member
from pilnveide_kit.errors import NotFound, ServiceUnavailable

T = TypeVar("T")


class UpstreamUnavailable(ServiceUnavailable):
    """learning-records or the catalog did not answer."""

    slug, title = "upstream-unavailable", "Upstream Unavailable"


class ExplainNotOffered(ServiceUnavailable):
    """learning-records does not (yet) list who an aggregation counted."""

    slug, title = "explain-not-offered", "Explain Not Offered"


class PlanUnknown(NotFound):
    """The catalog has no such plan."""

    slug, title = "plan-not-found", "Plan Not Found"


class IndicatorNotFound(NotFound):
    """No such indicator in the plan (or no definition for it)."""

    slug, title = "indicator-not-found", "Indicator Not Found"


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except SourceUnavailable as exc:
        raise UpstreamUnavailable(str(exc)) from exc
    except PlanNotFound as exc:
        raise PlanUnknown(str(exc)) from exc


class CatalogCache:
    """A plan's indicators and the institutions, reloaded when the catalog's version moves.

    The version (`GET /v1/changes/head` of the catalog) is asked at most every `check_s`
    seconds; `ttl_s` is only a backstop. While the catalog cannot say its version, what was
    loaded is served on; with nothing loaded yet the request fails (503).
    """

    def __init__(self, catalog: CatalogSource, ttl_s: float, check_s: float = 1.0) -> None:
        self.catalog, self.ttl_s, self.check_s = catalog, ttl_s, check_s
        self._plans: dict[str, tuple[float, dict[str, IndicatorInfo]]] = {}
        self._institutions: tuple[float, dict[str, InstitutionInfo]] | None = None
        self._names: tuple[float, dict[str, dict[str, tuple[str, str]]]] | None = None
        self._lock = asyncio.Lock()
        self._version: int | None = None
        self._checked_at: float | None = None
        #: Moves on each reload of the institutions (part of every result's cache key).
        self.generation = 0

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.ttl_s

    async def _follow_version(self) -> None:
        """Forget what was loaded once the catalog's version has moved (call under the lock)."""
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < self.check_s:
            return
        try:
            version = await self.catalog.version()
        except SourceUnavailable:
            if self._plans or self._institutions is not None:
                return  # serve what was loaded; ask again on the next request
            raise
        self._checked_at = now
        if version != self._version:
            self._version = version
            self._plans.clear()
            self._institutions = None
            self._names = None

    async def indicators(self, plan: str) -> dict[str, IndicatorInfo]:
        """The plan's indicators by code."""
        async with self._lock:
            await _guard(self._follow_version())
            cached = self._plans.get(plan)
            if cached is None or not self._fresh(cached[0]):
                rows = await _guard(self.catalog.indicators(plan))
                cached = (time.monotonic(), {row.code: row for row in rows})
                self._plans[plan] = cached
            return cached[1]

    async def institutions(self) -> dict[str, InstitutionInfo]:
        """Every institution by code."""
        async with self._lock:
            await _guard(self._follow_version())
            if self._institutions is None or not self._fresh(self._institutions[0]):
                rows = await _guard(self.catalog.institutions())
                fetched = with_resorts(rows)
                if self._institutions is None or self._institutions[1] != fetched:
                    self.generation += 1
                self._institutions = (time.monotonic(), fetched)
            return self._institutions[1]

    async def names(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Names of coded breakdown rows by dimension: the catalog's position groups."""
        async with self._lock:
            await _guard(self._follow_version())
            if self._names is None or not self._fresh(self._names[0]):
                fetched = {"position_group": await _guard(self.catalog.names("position_groups"))}
                if self._names is None or self._names[1] != fetched:
                    self.generation += 1
                self._names = (time.monotonic(), fetched)
            return self._names[1]

    def clear(self) -> None:
        """Forget everything (tests, or after a known catalog change)."""
        self._plans.clear()
        self._institutions = None
        self._names = None
        self._checked_at = None


class ResultCache:
    """Least-recently-used results keyed by everything that determines them."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[Any, ...], IndicatorResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> IndicatorResult | None:
        """A cached result, or None."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return found

    def put(self, key: tuple[Any, ...], result: IndicatorResult) -> None:
        """Keep a result, dropping the least recently used beyond the limit."""
        if self.max_entries <= 0:
            return
        self._items[key] = result
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


class IndicatorSummary(BaseModel):
    """One indicator in a list: its value, target and status."""

    code: str
    title: str
    priority: str | None
    measure: str | None
    kind: str | None
    definition_version: int | None
    value: float | None
    numerator: float | None
    denominator: float | None
    unit: str | None
    target_kind: str
    deadline_year: int | None
    status: str
    cutoff_seq: int | None


class ProgressCounts(BaseModel):
    """How many indicators are in each status."""

    code: str
    indicators: int = 0
    achieved: int = 0
    achieved_late: int = 0
    above_range: int = 0
    on_track: int = 0
    at_risk: int = 0
    not_achieved: int = 0
    no_data: int = 0
    no_target: int = 0
    not_defined: int = 0


class PlanProgress(BaseModel):
    """Plan progress per priority and measure on a date."""

    plan: str
    as_of: date
    cutoff_seq: int | None
    total: ProgressCounts
    priorities: list[ProgressCounts] = Field(default_factory=list)
    measures: list[ProgressCounts] = Field(default_factory=list)


class ExplainView(BaseModel):
    """Who an indicator counted: pseudonymous people and/or institutions."""

    code: str
    definition_version: int
    cutoff_seq: int | None
    metric: str | None
    filter: dict[str, Any] | None
    members: list[Member]


@dataclass(frozen=True)
class Computed:
    """A result and whether it came from the cache."""

    result: IndicatorResult
    cache_hit: bool
    head: int | None


def _summary(info: IndicatorInfo, result: IndicatorResult | None) -> IndicatorSummary:
    return IndicatorSummary(
        code=info.code,
        title=result.title if result else info.title,
        priority=info.priority,
        measure=info.measure,
        kind=result.kind if result else None,
        definition_version=result.definition_version if result else None,
        value=result.value if result else None,
        numerator=result.numerator if result else None,
        denominator=result.denominator if result else None,
        unit=result.unit if result else None,
        target_kind=info.target.kind,
        deadline_year=info.deadline_year,
        status=result.status if result else "not_defined",
        cutoff_seq=result.cutoff_seq if result else None,
    )


class IndicatorsService:
    """Computes, caches and explains results for the HTTP routes."""

    def __init__(
        self, records: RecordsSource, catalog: CatalogSource, settings: IndicatorsSettings
    ) -> None:
        self.records = records
        self.catalog = CatalogCache(
            catalog, settings.catalog_ttl_s, settings.catalog_version_check_s
        )
        self.cache = ResultCache(settings.cache_max_entries)
        self.settings = settings
        self.learned = tuple(settings.learned_statuses)
        self.semaphore = asyncio.Semaphore(settings.compute_concurrency)

    async def head(self) -> int:
        """The records change feed's head now."""
        return await _guard(self.records.head())

    async def _info(self, definition: IndicatorDefinition) -> IndicatorInfo:
        known = await self.catalog.indicators(definition.plan)
        found = known.get(definition.code)
        if found is not None:
            return found
        spec = DefinitionSpec.model_validate(definition.spec)
        return IndicatorInfo(code=definition.code, title=spec.title or "", plan=definition.plan)

    async def _compute(
        self,
        definition: IndicatorDefinition,
        info: IndicatorInfo,
        params: Params,
        dataset: Dataset,
        head: int | None,
    ) -> Computed:
        spec = DefinitionSpec.model_validate(definition.spec)
        key = (
            definition.code,
            definition.version,
            params,
            head,
            info.model_dump_json(),
            self.catalog.generation,
        )
        if spec.computed:
            cached = self.cache.get(key)
            if cached is not None:
                return Computed(cached, True, head)
        async with self.semaphore:
            result = await _guard(
                compute(
                    definition.code, spec, definition.version, info, params, self.records, dataset
                )
            )
        if spec.computed:
            self.cache.put(key, result)
        return Computed(result, False, head)

    async def result(
        self, session: Session, code: str, params: Params, version: int | None = None
    ) -> Computed:
        """One indicator's result (a past definition version when asked)."""
        definition = definitions.get(session, code, version)
        spec = DefinitionSpec.model_validate(definition.spec)
        manual = [] if spec.computed else observations.for_engine(session, code)
        info = await self._info(definition)
        head = await self.head() if spec.computed else None
        institutions = await self.catalog.institutions()
        dataset = Dataset(
            institutions=institutions,
            observations=manual,
            learned_statuses=self.learned,
            names=await self.catalog.names(),
        )
        return await self._compute(definition, info, params, dataset, head)

    async def many(
        self, session: Session, plan: str, params: Params
    ) -> tuple[list[IndicatorInfo], dict[str, IndicatorResult], int]:
        """Every indicator of a plan computed (totals only unless params ask for detail)."""
        infos = sorted(
            (await self.catalog.indicators(plan)).values(),
            key=lambda i: definitions.natural_key(i.code),
        )
        current = definitions.current_all(session)
        institutions = await self.catalog.institutions()
        names = await self.catalog.names()
        head = await self.head()
        jobs: dict[str, Awaitable[Computed]] = {}
        for info in infos:
            definition = current.get(info.code)
            if definition is None:
                continue
            spec = DefinitionSpec.model_validate(definition.spec)
            manual = [] if spec.computed else observations.for_engine(session, info.code)
            dataset = Dataset(
                institutions=institutions,
                observations=manual,
                learned_statuses=self.learned,
                names=names,
            )
            jobs[info.code] = self._compute(definition, info, params, dataset, head)
        done = await asyncio.gather(*jobs.values())
        return infos, {code: c.result for code, c in zip(jobs, done, strict=True)}, head

    async def summaries(
        self,
        session: Session,
        plan: str,
        params: Params,
        *,
        measure: str | None = None,
        priority: str | None = None,
    ) -> list[IndicatorSummary]:
        """Indicators of a plan (of a measure or priority) with value and status."""
        infos, results, _head = await self.many(session, plan, params)
        return [
            _summary(info, results.get(info.code))
            for info in infos
            if (measure is None or info.measure == measure)
            and (priority is None or info.priority == priority)
        ]

    async def progress(self, session: Session, plan: str, params: Params) -> PlanProgress:
        """How many indicators are achieved, on track, at risk… per priority and measure."""
        infos, results, _head = await self.many(session, plan, params)
        total = ProgressCounts(code=plan)
        priorities: dict[str, ProgressCounts] = {}
        measures: dict[str, ProgressCounts] = {}
        for info in infos:
            status = results[info.code].status if info.code in results else "not_defined"
            groups = [total]
            if info.priority is not None:
                groups.append(
                    priorities.setdefault(info.priority, ProgressCounts(code=info.priority))
                )
            if info.measure is not None:
                groups.append(measures.setdefault(info.measure, ProgressCounts(code=info.measure)))
            for counts in groups:
                counts.indicators += 1
                setattr(counts, status, getattr(counts, status) + 1)
        cutoffs = [r.cutoff_seq for r in results.values() if r.cutoff_seq is not None]
        return PlanProgress(
            plan=plan,
            as_of=params.as_of,
            cutoff_seq=max(cutoffs) if cutoffs else None,
            total=total,
            priorities=sorted(priorities.values(), key=lambda c: definitions.natural_key(c.code)),
            measures=sorted(measures.values(), key=lambda c: definitions.natural_key(c.code)),
        )

    async def explain(
        self, session: Session, code: str, params: Params, version: int | None
    ) -> ExplainView:
        """The pseudonymous people or institutions an indicator counted."""
        definition = definitions.get(session, code, version)
        spec = DefinitionSpec.model_validate(definition.spec)
        info = await self._info(definition)
        institutions = await self.catalog.institutions()
        query = counted_query(
            code,
            spec,
            info,
            replace(params, detail=False),
            Dataset(institutions, learned_statuses=self.learned),
        )
        if query is None:
            return ExplainView(
                code=code,
                definition_version=definition.version,
                cutoff_seq=None,
                metric=None,
                filter=None,
                members=[],
            )
        if query.filter.institutions == []:
            members, cutoff = [], None
        else:
            try:
                answer = await _guard(self.records.members(query))
            except ExplainUnavailable as exc:
                raise ExplainNotOffered(
                    "learning-records does not offer POST /v1/aggregations/members yet"
                ) from exc
            members, cutoff = answer.members, answer.cutoff_seq
        if params.scope is not None:
            members = [m for m in members if m.institution in params.scope]
        return ExplainView(
            code=code,
            definition_version=definition.version,
            cutoff_seq=cutoff,
            metric=query.metric,
            filter=query.filter.model_dump(mode="json", by_alias=True, exclude_none=True),
            members=members,
        )

    async def norms(self, year: int, as_of: date, scope: frozenset[str] | None) -> NormsResult:
        """Annex 3 norms per institution for a year."""
        institutions = await self.catalog.institutions()
        return await _guard(
            annex3_norms(
                self.records,
                institutions,
                year=year,
                as_of=as_of,
                scope=scope,
                learned_statuses=self.settings.learned_statuses,
                due_statuses=self.settings.due_statuses,
                no_show_statuses=self.settings.no_show_statuses,
            )
        )
