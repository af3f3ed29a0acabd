"""Aggregation endpoints for the indicators service (docs/contracts/records-for-indicators.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from learning_records.aggregations.headcounts import headcounts
from learning_records.aggregations.service import aggregate, batch, members
from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    BatchQuery,
    BatchResult,
    HeadcountQuery,
    HeadcountResult,
    MembersResult,
)
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require

router = APIRouter(prefix="/v1/aggregations", tags=["aggregations"])


@router.post("/query", response_model=AggregationResult, summary="Count people, institutions…")
def query_aggregation(
    query: AggregationQuery,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
) -> AggregationResult:
    """Distinct people, institutions, municipalities, enrolments or hours matching a filter."""
    return aggregate(session, query, principal)


@router.post("/headcounts", response_model=HeadcountResult, summary="Headcounts as of a date")
def query_headcounts(
    query: HeadcountQuery,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
) -> HeadcountResult:
    """The institutions' reported headcounts (the share denominators) as of a date."""
    return headcounts(session, query, principal)


@router.post("/members", response_model=MembersResult, summary="Who an aggregation counts")
def list_aggregation_members(
    query: AggregationQuery,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
) -> MembersResult:
    """The pseudonymous people (or institutions) a query counts, for the indicators' explain."""
    return members(session, query, principal)


@router.post("/batch", response_model=BatchResult, summary="Several questions in one request")
def query_batch(
    query: BatchQuery,
    session: SessionDep,
    principal: Annotated[Principal, require("records:read")],
) -> BatchResult:
    """Aggregations and headcounts answered together from one snapshot, in the order asked;
    headcounts that differ only in their date are read in one statement, and so are
    aggregations that differ only in a distinct-count metric (people, institutions,
    municipalities, enrolments, sessions)."""
    return batch(session, query, principal)
