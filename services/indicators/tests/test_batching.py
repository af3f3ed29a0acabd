"""Questions asked in one loop turn go to learning-records in one batch request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from indicators.sources.batching import BatchingRecords
from indicators.sources.memory import Employment, Enrolment, Headcount, MemoryRecords
from pilnveide_contracts.records import (
    AggregationFilter,
    AggregationQuery,
    AggregationResult,
    HeadcountQuery,
    HeadcountResult,
)


@dataclass
class BatchRecords(MemoryRecords):
    """The in-memory contract with a batch endpoint that records what each batch held."""

    offers_batch: bool = True
    batches: list[tuple[int, int]] = field(default_factory=list)

    async def batch(
        self, aggregations: list[AggregationQuery], headcounts: list[HeadcountQuery]
    ) -> tuple[list[AggregationResult], list[HeadcountResult]] | None:
        if not self.offers_batch:
            return None
        self.batches.append((len(aggregations), len(headcounts)))
        return (
            [await self.aggregate(q) for q in aggregations],
            [await self.headcounts(q) for q in headcounts],
        )


def _records(offers_batch: bool = True) -> BatchRecords:
    return BatchRecords(
        employments=[
            Employment(person="a", institution="FM", valid_from=date(2020, 1, 1)),
            Employment(person="b", institution="TM", valid_from=date(2020, 1, 1)),
        ],
        enrolments=[
            Enrolment(person=p, course="C", status="completed", status_date=date(2024, 3, 1))
            for p in ("a", "b")
        ],
        headcount_rows=[
            Headcount("FM", date(2023, 1, 1), 10),
            Headcount("TM", date(2024, 1, 1), 5),
        ],
        offers_batch=offers_batch,
    )


def _questions() -> tuple[list[AggregationQuery], list[HeadcountQuery]]:
    people = [
        AggregationQuery(metric="people", filter=AggregationFilter(institutions=[i]))
        for i in ("FM", "TM")
    ]
    years = [HeadcountQuery(as_of=date(y, 12, 31)) for y in (2022, 2023, 2024)]
    return people, years


def test_one_turns_questions_go_in_one_request_in_order() -> None:
    inner = _records()
    batching = BatchingRecords(inner, max_batch=16)
    people, years = _questions()

    async def ask() -> list[float]:
        answers = await asyncio.gather(
            batching.headcounts(years[0]),
            *(batching.aggregate(q) for q in people),
            *(batching.headcounts(q) for q in years[1:]),
        )
        return [a.total for a in answers]

    assert asyncio.run(ask()) == [0, 1, 1, 10, 15]
    assert inner.batches == [(2, 3)] and batching.requests == 1


def test_a_full_batch_is_sent_and_the_rest_follow() -> None:
    inner = _records()
    batching = BatchingRecords(inner, max_batch=2)
    _people, years = _questions()

    async def ask() -> list[float]:
        answers = await asyncio.gather(*(batching.headcounts(q) for q in years))
        return [a.total for a in answers]

    assert asyncio.run(ask()) == [0, 10, 15]
    assert inner.batches == [(0, 2)] and batching.requests == 2  # the third went alone


def test_without_the_batch_endpoint_questions_go_one_by_one() -> None:
    inner = _records(offers_batch=False)
    batching = BatchingRecords(inner, max_batch=16)
    people, years = _questions()

    async def ask() -> list[float]:
        first = await asyncio.gather(*(batching.aggregate(q) for q in people))
        second = await asyncio.gather(*(batching.headcounts(q) for q in years))
        return [a.total for a in [*first, *second]]

    assert asyncio.run(ask()) == [1, 1, 0, 10, 15]
    assert inner.batches == [] and batching.requests == 2 + 3
