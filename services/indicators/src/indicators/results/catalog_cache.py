"""The catalog data results are computed with: a plan's indicators, the institutions and the
breakdown names, reused until the catalog's version moves; and the 503/404 problems a source's
failure or an unknown plan becomes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from indicators.engine.compute import with_resorts
from indicators.sources.protocols import CatalogSource, PlanNotFound, SourceUnavailable
from indicators.sources.types import IndicatorInfo, InstitutionInfo
from pilnveide_kit.errors import NotFound, ServiceUnavailable

T = TypeVar("T")


class UpstreamUnavailable(ServiceUnavailable):
    """learning-records or the catalog did not answer."""

    slug, title = "upstream-unavailable", "Upstream Unavailable"


class PlanUnknown(NotFound):
    """The catalog has no such plan."""

    slug, title = "plan-not-found", "Plan Not Found"


async def guard(call: Awaitable[T]) -> T:
    """Await a source's answer: unreachable is a 503 problem, an unknown plan a 404."""
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
            await guard(self._follow_version())
            cached = self._plans.get(plan)
            if cached is None or not self._fresh(cached[0]):
                rows = await guard(self.catalog.indicators(plan))
                cached = (time.monotonic(), {row.code: row for row in rows})
                self._plans[plan] = cached
            return cached[1]

    async def institutions(self) -> dict[str, InstitutionInfo]:
        """Every institution by code."""
        async with self._lock:
            await guard(self._follow_version())
            if self._institutions is None or not self._fresh(self._institutions[0]):
                rows = await guard(self.catalog.institutions())
                fetched = with_resorts(rows)
                if self._institutions is None or self._institutions[1] != fetched:
                    self.generation += 1
                self._institutions = (time.monotonic(), fetched)
            return self._institutions[1]

    async def names(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Names of coded breakdown rows by dimension: the catalog's position groups."""
        async with self._lock:
            await guard(self._follow_version())
            if self._names is None or not self._fresh(self._names[0]):
                fetched = {"position_group": await guard(self.catalog.names("position_groups"))}
                if self._names is None or self._names[1] != fetched:
                    self.generation += 1
                self._names = (time.monotonic(), fetched)
            return self._names[1]

    @property
    def version(self) -> int | None:
        """The catalog's version the loaded data belongs to (None: not asked yet)."""
        return self._version

    def clear(self) -> None:
        """Forget everything (tests, or after a known catalog change)."""
        self._plans.clear()
        self._institutions = None
        self._names = None
        self._checked_at = None
