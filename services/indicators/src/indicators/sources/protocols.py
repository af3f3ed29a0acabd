"""The two interfaces the computation engine needs; HTTP clients and test fakes implement them."""

from __future__ import annotations

from typing import Protocol

from indicators.sources.types import IndicatorInfo, InstitutionInfo
from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    HeadcountQuery,
    HeadcountResult,
    MembersResult,
)


class RecordsSource(Protocol):
    """learning-records as the contract in docs/contracts/records-for-indicators.md offers it."""

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """`POST /v1/aggregations/query`."""
        ...

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """`POST /v1/aggregations/headcounts`."""
        ...

    async def head(self) -> int:
        """`GET /v1/changes/head`: the change feed's last sequence number."""
        ...

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Proposed extension `POST /v1/aggregations/members`: who an aggregation counted.

        Raises `ExplainUnavailable` when learning-records does not offer it.
        """
        ...


class CatalogSource(Protocol):
    """The catalog's plans, indicators with targets, and institutions."""

    async def indicators(self, plan: str) -> list[IndicatorInfo]:
        """Every indicator of a plan with its priority, measure, deadline year and target."""
        ...

    async def institutions(self) -> list[InstitutionInfo]:
        """Every institution with its sector, kind and resort."""
        ...

    async def version(self) -> int:
        """The catalog's version (`GET /v1/changes/head`): it moves on every catalog write."""
        ...

    async def names(self, list_code: str) -> dict[str, tuple[str, str]]:
        """A reference list's codes with their (Latvian, English) names."""
        ...


class ExplainUnavailable(Exception):
    """learning-records offers no members endpoint (the proposed contract extension)."""


class SourceUnavailable(Exception):
    """A source did not answer, or answered with an error."""


class PlanNotFound(Exception):
    """The catalog has no plan with the code asked for."""
