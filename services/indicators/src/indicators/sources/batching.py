"""Questions to learning-records asked in the same turn of the event loop go in one request.

An indicator asks its numerator, its denominators and one headcount per year at once (and lists
compute many indicators at once); `BatchingRecords` collects what is asked before the loop turns
and sends it as one `POST /v1/aggregations/batch` (at most `max_batch` questions each), which
learning-records answers from one snapshot, reading headcounts of several dates in one
statement. A learning-records without the batch endpoint is asked one question at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    HeadcountQuery,
    HeadcountResult,
    MembersResult,
)


class BatchCapable(Protocol):
    """learning-records with single questions and (maybe) the batch endpoint."""

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """One aggregation."""
        ...

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """One headcount question."""
        ...

    async def batch(
        self, aggregations: list[AggregationQuery], headcounts: list[HeadcountQuery]
    ) -> tuple[list[AggregationResult], list[HeadcountResult]] | None:
        """Several at once (None: not offered)."""
        ...

    async def head(self) -> int:
        """The change feed's head."""
        ...

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Who an aggregation counted."""
        ...


Pending = tuple[AggregationQuery | HeadcountQuery, "asyncio.Future[Any]"]


class BatchingRecords:
    """A records source that sends the questions of one loop turn together."""

    def __init__(self, inner: BatchCapable, max_batch: int) -> None:
        self.inner, self.max_batch = inner, max_batch
        self._pending: list[Pending] = []
        self._scheduled = False
        self._offered = True
        self._sending: set[asyncio.Task[None]] = set()
        #: Requests sent (batches and single questions): the benchmark prints it.
        self.requests = 0

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """An aggregation, answered with the others of this loop turn."""
        answer: AggregationResult = await self._ask(query)
        return answer

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """A headcount question, answered with the others of this loop turn."""
        answer: HeadcountResult = await self._ask(query)
        return answer

    async def head(self) -> int:
        """The change feed's head (never batched: it is the cheap freshness check)."""
        return await self.inner.head()

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Who an aggregation counted (not batched)."""
        return await self.inner.members(query)

    async def _ask(self, query: AggregationQuery | HeadcountQuery) -> Any:
        if self.max_batch <= 1 or not self._offered:
            self.requests += 1
            return await self._single(query)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((query, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def _single(self, query: AggregationQuery | HeadcountQuery) -> Any:
        if isinstance(query, AggregationQuery):
            return await self.inner.aggregate(query)
        return await self.inner.headcounts(query)

    def _flush(self) -> None:
        self._scheduled = False
        chosen, self._pending = self._pending, []
        if chosen:
            task = asyncio.get_running_loop().create_task(self._send(chosen))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, chosen: list[Pending]) -> None:
        try:
            answers = await self._answers([query for query, _future in chosen])
        except BaseException as exc:  # every waiting question gets the failure
            for _query, future in chosen:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_query, future), answer in zip(chosen, answers, strict=True):
            if not future.done():  # its caller may have been cancelled
                future.set_result(answer)

    async def _answers(self, queries: list[AggregationQuery | HeadcountQuery]) -> list[Any]:
        self.requests += 1
        if len(queries) == 1:
            return [await self._single(queries[0])]
        aggregations = [q for q in queries if isinstance(q, AggregationQuery)]
        headcounts = [q for q in queries if isinstance(q, HeadcountQuery)]
        found = await self.inner.batch(aggregations, headcounts)
        if found is None:  # an older learning-records: one question at a time from now on
            self._offered = False
            self.requests += len(queries) - 1
            return list(await asyncio.gather(*(self._single(q) for q in queries)))
        by_aggregation, by_headcount = iter(found[0]), iter(found[1])
        return [
            next(by_aggregation) if isinstance(q, AggregationQuery) else next(by_headcount)
            for q in queries
        ]
