"""Stored results: what a computation answered, from which feed position, shared by replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from indicators.definitions.models import utcnow
from indicators.models import IndicatorsModel
from pilnveide_kit.db import UtcDateTime


class StoredResult(IndicatorsModel, table=True):
    """One indicator's result for one set of parameters (and one caller scope).

    `result` is null while the first computation runs. `claimed_by`/`claimed_until` is the row
    claim that keeps two replicas from computing the same result at once: a replica takes it
    with a conditional UPDATE (or by inserting the row), and another may take it over only once
    `claimed_until` has passed (the first one died).
    """

    __tablename__ = "indicator_result"

    #: sha256 of the code, definition version and parameters (see `results/store.py`).
    key: str = Field(primary_key=True, max_length=64)
    code: str = Field(max_length=40, index=True)
    definition_version: int
    #: The parameters to compute it again with (as-of, period, breakdowns, scope…).
    params: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: The result's top-level figures (`ResultSummary` JSON) that lists and plan progress read;
    #: null while `result` is, and on rows stored before it existed (then read from `result`).
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: learning-records change-feed sequence the result reflects.
    cutoff_seq: int | None = None
    #: The catalog's version (its change-feed head) when it was computed.
    catalog_version: int | None = None
    computed_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime())
    #: Last time a caller read it (results nobody reads are no longer refreshed).
    read_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime(), index=True)
