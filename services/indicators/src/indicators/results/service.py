"""Serve results: catalog data reused until the catalog's version moves; computed results read
from the store, never computed on the request path unless never computed before.

A read serves the stored result of its parameters at once (it says the feed position it
reflects and when it was computed); the refresher (`results/refresher.py`) computes stored
results again when the records change feed or the catalog's version moves. Only parameters
never asked before are computed on the request, once across replicas (a row claim).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TypeVar

from sqlmodel import Session

from indicators.definitions import service as definitions
from indicators.definitions.models import IndicatorDefinition, utcnow
from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute, counted_query
from indicators.engine.norms import NormsResult, annex3_norms
from indicators.engine.results import IndicatorResult, ResultSummary
from indicators.engine.results import Observation as ObservationView
from indicators.observations import service as observations
from indicators.results.catalog_cache import CatalogCache, guard
from indicators.results.schemas import ExplainView, IndicatorSummary, PlanProgress, ProgressCounts
from indicators.results.store import ResultStore, StoredRow, StoredSummary, result_key
from indicators.settings import IndicatorsSettings
from indicators.sources.protocols import (
    CatalogSource,
    ExplainUnavailable,
    RecordsSource,
)
from indicators.sources.types import IndicatorInfo
from pilnveide_kit.errors import NotFound, ServiceUnavailable

T = TypeVar("T")


class ExplainNotOffered(ServiceUnavailable):
    """learning-records does not (yet) list who an aggregation counted."""

    slug, title = "explain-not-offered", "Explain Not Offered"


class IndicatorNotFound(NotFound):
    """No such indicator in the plan (or no definition for it)."""

    slug, title = "indicator-not-found", "Indicator Not Found"


class Computed:
    """A result, whether it was stored already, and the feed position it reflects.

    A stored result is kept as its stored JSON and parsed only when asked for (`result`): a
    single indicator's JSON read sends `stored_json` as it is. Lists read only the stored
    summary (`summary_json`, see `ResultStore.get_summaries`), never the whole result.
    """

    def __init__(
        self,
        result: IndicatorResult | None,
        cache_hit: bool,
        head: int | None,
        computed_at: datetime | None = None,
        stored_json: str | None = None,
        summary_json: str | None = None,
    ) -> None:
        self._result, self.stored_json, self.summary_json = result, stored_json, summary_json
        self.cache_hit, self.head, self.computed_at = cache_hit, head, computed_at

    @property
    def result(self) -> IndicatorResult:
        """The result (parsed from the stored JSON on first use)."""
        if self._result is None:
            assert self.stored_json is not None
            self._result = IndicatorResult.model_validate_json(self.stored_json)
        return self._result

    @property
    def json(self) -> str:
        """The result as JSON: the stored text as it is, else the result serialised (as the
        store writes it)."""
        if self.stored_json is not None:
            return self.stored_json
        return self.result.model_dump_json()

    @property
    def summary(self) -> ResultSummary:
        """The top-level figures: from the stored summary, else from the (whole) result."""
        if self._result is None and self.summary_json is not None:
            return ResultSummary.model_validate_json(self.summary_json)
        return ResultSummary.of(self.result)


def _stored(row: StoredRow) -> Computed:
    return Computed(None, True, row.cutoff_seq, row.computed_at, stored_json=row.result)


def _summarised(row: StoredSummary) -> Computed:
    return Computed(None, True, row.cutoff_seq, row.computed_at, summary_json=row.summary_json)


def _summary(info: IndicatorInfo, result: ResultSummary | None) -> IndicatorSummary:
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
    """Serves stored results, computes the ones never asked, and explains them."""

    def __init__(
        self, records: RecordsSource, catalog: CatalogSource, settings: IndicatorsSettings
    ) -> None:
        self.records = records
        self.catalog = CatalogCache(
            catalog, settings.catalog_ttl_s, settings.catalog_version_check_s
        )
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store = ResultStore(owner[:80], settings.compute_lease_s)
        self.settings = settings
        self.learned = tuple(settings.learned_statuses)
        self.semaphore = asyncio.Semaphore(settings.compute_concurrency)
        #: Computations this instance ran (each one stored): tests count them.
        self.computations = 0

    async def head(self) -> int:
        """The records change feed's head now."""
        return await guard(self.records.head())

    async def _info(self, definition: IndicatorDefinition) -> IndicatorInfo:
        known = await self.catalog.indicators(definition.plan)
        found = known.get(definition.code)
        if found is not None:
            return found
        spec = DefinitionSpec.model_validate(definition.spec)
        return IndicatorInfo(code=definition.code, title=spec.title or "", plan=definition.plan)

    async def compute_now(
        self,
        definition: IndicatorDefinition,
        params: Params,
        manual: Sequence[ObservationView] = (),
    ) -> tuple[IndicatorResult, int | None, int | None]:
        """Compute from the sources now: the result, its feed position and catalog version.

        The catalog's version and the feed head are read before the data, so a change during
        the computation leaves the stored result marked older than it, to be computed again.
        """
        spec = DefinitionSpec.model_validate(definition.spec)
        info = await self._info(definition)
        institutions = await self.catalog.institutions()
        catalog_version = self.catalog.version
        head = await self.head() if spec.computed else None
        dataset = Dataset(
            institutions=institutions,
            observations=manual,
            learned_statuses=self.learned,
            names=await self.catalog.names(),
        )
        async with self.semaphore:
            result = await guard(
                compute(
                    definition.code, spec, definition.version, info, params, self.records, dataset
                )
            )
        self.computations += 1
        result.computed_at = utcnow()
        # nothing read (e.g. no institution in scope): as of the head asked before
        cutoff = result.cutoff_seq if result.cutoff_seq is not None else head
        return result, cutoff, catalog_version

    async def _compute_once(self, definition: IndicatorDefinition, params: Params) -> Computed:
        """A result never computed: compute it here, or wait for the replica computing it."""
        key = result_key(definition.code, definition.version, params)
        code, version = definition.code, definition.version
        pause = 0.02
        while True:
            claimed = await asyncio.to_thread(
                self.store.claim_new, key, code, version, params
            ) or await asyncio.to_thread(self.store.claim, key, unfinished=True)
            if claimed:
                try:
                    result, cutoff, catalog_version = await self.compute_now(definition, params)
                except BaseException:
                    await asyncio.to_thread(self.store.release, key)
                    raise
                await asyncio.to_thread(self.store.put, key, result, cutoff, catalog_version)
                return Computed(result, False, cutoff, result.computed_at)
            await asyncio.sleep(pause)  # another request or replica is computing it
            pause = min(pause * 2, 0.5)
            row = (await asyncio.to_thread(self.store.get_many, [key])).get(key)
            if row is not None and row.result is not None:
                return _stored(row)

    def _read(self, read: Callable[[Session], T]) -> T:
        with Session(self.store.engine) as session:
            return read(session)

    async def _serve(
        self,
        definitions_by_code: dict[str, IndicatorDefinition],
        params: Params,
        *,
        summaries: bool = False,
    ) -> dict[str, Computed]:
        """Each definition's result: stored ones at once, hand-reported ones from observations.
        With `summaries`, stored ones are read as their summaries only (for lists)."""
        keys: dict[str, str] = {}
        manual: list[str] = []
        for code, definition in definitions_by_code.items():
            if DefinitionSpec.model_validate(definition.spec).computed:
                keys[code] = result_key(code, definition.version, params)
            else:  # observations are read from this database each time: nothing to store
                manual.append(code)
        observed = await asyncio.to_thread(
            self._read, lambda s: {code: observations.for_engine(s, code) for code in manual}
        )
        done: dict[str, Computed] = {}
        for code in manual:
            result, _cutoff, _version = await self.compute_now(
                definitions_by_code[code], params, observed[code]
            )
            done[code] = Computed(result, False, None, result.computed_at)
        missing: dict[str, Awaitable[Computed]] = {}
        stored: dict[str, Computed]
        if summaries:
            shown = await asyncio.to_thread(self.store.get_summaries, list(keys.values()))
            stored = {key: _summarised(row) for key, row in shown.items()}
        else:
            rows = await asyncio.to_thread(self.store.get_many, list(keys.values()))
            stored = {key: _stored(row) for key, row in rows.items() if row.result is not None}
        for code, key in keys.items():
            if key in stored:
                done[code] = stored[key]
            else:
                missing[code] = self._compute_once(definitions_by_code[code], params)
        computed = await asyncio.gather(*missing.values())
        done.update(zip(missing, computed, strict=True))
        return done

    def read_definition(self, code: str, version: int | None = None) -> IndicatorDefinition:
        """A definition (the current version unless asked), read in a short session."""
        return self._read(lambda s: definitions.get(s, code, version))

    async def result(self, code: str, params: Params, version: int | None = None) -> Computed:
        """One indicator's result (a past definition version when asked).

        Results routes keep no request transaction: the definitions and observations are read
        in short sessions of their own, so the store's claims (own transactions) never wait for
        a request's (SQLite takes its write lock when a transaction begins).
        """
        definition = await asyncio.to_thread(self.read_definition, code, version)
        return (await self._serve({code: definition}, params))[code]

    async def chosen(
        self,
        plan: str,
        codes: Sequence[str] | None = None,
        *,
        measure: str | None = None,
        priority: str | None = None,
    ) -> dict[str, IndicatorDefinition]:
        """The current definitions of the indicators a whole-results read covers, 1.2.1 before
        1.10.1: the given codes (of any plan, as the single read; 404 naming those without a
        current definition), else the plan's indicators (of a measure or priority) that have
        one (the plan list shows the others as `not_defined`)."""
        current = await asyncio.to_thread(self._read, definitions.current_all)
        if codes is not None:
            unknown = [code for code in codes if code not in current]
            if unknown:
                raise definitions.DefinitionNotFound(
                    f"No current definition for {', '.join(unknown)}", codes=unknown
                )
            picked: Iterable[str] = set(codes)
        else:
            picked = [
                info.code
                for info in (await self.catalog.indicators(plan)).values()
                if info.code in current
                and (measure is None or info.measure == measure)
                and (priority is None or info.priority == priority)
            ]
        return {code: current[code] for code in sorted(picked, key=definitions.natural_key)}

    async def results(
        self, chosen: dict[str, IndicatorDefinition], params: Params
    ) -> list[Computed]:
        """These definitions' whole results in their order, each as its single read serves it:
        the stored ones read together in one query and kept as their stored JSON, hand-reported
        ones from their observations, parameters never asked computed now (once)."""
        served = await self._serve(chosen, params)
        return [served[code] for code in chosen]

    async def many(
        self, plan: str, params: Params
    ) -> tuple[list[IndicatorInfo], dict[str, ResultSummary], int | None]:
        """Every indicator of a plan, its result's summary only (the stored summaries: no
        stored result is read or parsed whole)."""
        infos = sorted(
            (await self.catalog.indicators(plan)).values(),
            key=lambda i: definitions.natural_key(i.code),
        )
        current = await asyncio.to_thread(self._read, definitions.current_all)
        chosen = {info.code: current[info.code] for info in infos if info.code in current}
        served = await self._serve(chosen, params, summaries=True)
        heads = [c.head for c in served.values() if c.head is not None]
        return infos, {code: c.summary for code, c in served.items()}, max(heads, default=None)

    async def summaries(
        self,
        plan: str,
        params: Params,
        *,
        measure: str | None = None,
        priority: str | None = None,
    ) -> list[IndicatorSummary]:
        """Indicators of a plan (of a measure or priority) with value and status."""
        infos, results, _head = await self.many(plan, params)
        return [
            _summary(info, results.get(info.code))
            for info in infos
            if (measure is None or info.measure == measure)
            and (priority is None or info.priority == priority)
        ]

    async def progress(self, plan: str, params: Params) -> PlanProgress:
        """How many indicators are achieved, on track, at risk… per priority and measure."""
        infos, results, _head = await self.many(plan, params)
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

    async def explain(self, code: str, params: Params, version: int | None) -> ExplainView:
        """The pseudonymous people or institutions an indicator counted. The definition is read
        in a short session of its own in a worker thread: a session held on the event loop
        across the questions to learning-records blocked the loop on SQLite's write lock."""
        definition = await asyncio.to_thread(self.read_definition, code, version)
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
                answer = await guard(self.records.members(query))
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
        return await guard(
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
