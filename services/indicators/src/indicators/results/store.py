"""The stored results every replica reads and the background refresher keeps current.

A stored result is keyed by the indicator code, the definition version and every parameter
(the caller's institution scope included: a restricted caller's totals are computed over its
institutions, so they cannot be cut out of the unrestricted result). The store keeps its own
short transactions, apart from the request's: a claim must be visible to the other replicas
before the computation it guards starts, and a result must be visible as soon as it is put.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from indicators.definitions.models import utcnow
from indicators.engine.computation import Params
from indicators.engine.results import IndicatorResult, ResultSummary
from indicators.results.models import StoredResult
from pilnveide_kit.db import session_scope


def params_json(params: Params) -> dict[str, Any]:
    """Parameters as plain JSON (canonical: the scope sorted), to key and to recompute with."""
    return {
        "as_of": params.as_of.isoformat(),
        "period_from": params.period_from.isoformat() if params.period_from else None,
        "period_to": params.period_to.isoformat() if params.period_to else None,
        "breakdowns": list(params.breakdowns) if params.breakdowns is not None else None,
        "detail": params.detail,
        "scope": sorted(params.scope) if params.scope is not None else None,
        "series": params.series,
        "lang": params.lang,
    }


def params_of_json(data: dict[str, Any]) -> Params:
    """The parameters a stored result was computed with."""

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    as_of = day(data["as_of"])
    assert as_of is not None
    breakdowns, scope = data.get("breakdowns"), data.get("scope")
    return Params(
        as_of=as_of,
        period_from=day(data.get("period_from")),
        period_to=day(data.get("period_to")),
        breakdowns=tuple(breakdowns) if breakdowns is not None else None,
        detail=bool(data.get("detail", True)),
        scope=frozenset(scope) if scope is not None else None,
        series=bool(data.get("series", False)),
        lang=str(data.get("lang", "lv")),
    )


def result_key(code: str, version: int, params: Params) -> str:
    """The stored result's key."""
    text = json.dumps([code, version, params_json(params)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StoredRow:
    """What a read needs of a stored result: its JSON (null while the first computation runs),
    the feed position it reflects and when it was computed."""

    result: str | None
    cutoff_seq: int | None
    computed_at: datetime | None


@dataclass(frozen=True)
class StoredSummary:
    """What a list reads of a stored result: its summary JSON, feed position and when computed.

    `summary_json` parses into `ResultSummary`; it is the whole result's JSON for rows stored
    before summaries were (the model ignores the other fields).
    """

    summary_json: str
    cutoff_seq: int | None
    computed_at: datetime | None


@dataclass(frozen=True)
class Stale:
    """A stored result to compute again."""

    key: str
    code: str
    definition_version: int
    params: Params


class ResultStore:
    """Stored results in the indicators database, with row claims between replicas."""

    def __init__(self, owner: str, lease_s: float, touch_after_s: float = 60.0) -> None:
        self.owner, self.lease_s, self.touch_after_s = owner, lease_s, touch_after_s
        self._engine: Engine | None = None

    def bind(self, engine: Engine) -> None:
        """Use this database (the app's engine, known once its lifespan has started)."""
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The bound engine."""
        if self._engine is None:
            raise RuntimeError("the result store is not bound to a database yet")
        return self._engine

    def get_many(self, keys: list[str]) -> dict[str, StoredRow]:
        """Stored rows by key (with or without a result yet); marks the read ones as read.
        Only the columns a read needs, as plain rows (no ORM objects: a single read is one of
        these, and the whole plan is one per indicator)."""
        if not keys:
            return {}
        with session_scope(self.engine) as session:
            rows = session.execute(
                select_columns(
                    col(StoredResult.key),
                    col(StoredResult.result),
                    col(StoredResult.cutoff_seq),
                    col(StoredResult.computed_at),
                    col(StoredResult.read_at),
                ).where(col(StoredResult.key).in_(keys))
            ).all()
            self._touch(session, [(row[0], row[4]) for row in rows])
        return {row[0]: StoredRow(row[1], row[2], row[3]) for row in rows}

    def get_summaries(self, keys: list[str]) -> dict[str, StoredSummary]:
        """The summaries of the stored results by key (those with a result only), without
        reading the whole results; marks them as read."""
        if not keys:
            return {}
        shown = func.coalesce(col(StoredResult.summary), col(StoredResult.result))
        with session_scope(self.engine) as session:
            rows = session.execute(
                select_columns(
                    col(StoredResult.key),
                    shown,
                    col(StoredResult.cutoff_seq),
                    col(StoredResult.computed_at),
                    col(StoredResult.read_at),
                ).where(col(StoredResult.key).in_(keys), col(StoredResult.result).is_not(None))
            ).all()
            self._touch(session, [(row[0], row[4]) for row in rows])
        return {row[0]: StoredSummary(row[1], row[2], row[3]) for row in rows}

    def _touch(self, session: Session, read: list[tuple[str, datetime]]) -> None:
        now = utcnow()
        old = [
            key for key, read_at in read if read_at < now - timedelta(seconds=self.touch_after_s)
        ]
        if old:  # a write at most once a minute per result, not on every read
            session.execute(
                update(StoredResult).where(col(StoredResult.key).in_(old)).values(read_at=now)
            )

    def claim_new(self, key: str, code: str, version: int, params: Params) -> bool:
        """Insert the row of a result never computed, claimed by us; False if it exists."""
        now = utcnow()
        row = StoredResult(
            key=key,
            code=code,
            definition_version=version,
            params=params_json(params),
            claimed_by=self.owner,
            claimed_until=now + timedelta(seconds=self.lease_s),
            read_at=now,
        )
        try:
            with session_scope(self.engine) as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def claim(
        self,
        key: str,
        head: int | None = None,
        catalog_version: int | None = None,
        *,
        unfinished: bool = False,
    ) -> bool:
        """Claim a row whose claim is free or expired: given a head, only if it is behind it (or
        the catalog version); `unfinished`: only if it has no result yet."""
        now = utcnow()
        free = or_(col(StoredResult.claimed_until).is_(None), col(StoredResult.claimed_until) < now)
        conditions: list[Any] = [col(StoredResult.key) == key, free]
        if head is not None:
            conditions.append(_stale(head, catalog_version))
        if unfinished:
            conditions.append(col(StoredResult.result).is_(None))
        with session_scope(self.engine) as session:
            done = session.execute(
                update(StoredResult)
                .where(*conditions)
                .values(claimed_by=self.owner, claimed_until=now + timedelta(seconds=self.lease_s))
            )
            return bool(getattr(done, "rowcount", 0))

    def put(
        self, key: str, result: IndicatorResult, cutoff: int | None, catalog_version: int | None
    ) -> None:
        """Store a computed result (read up to feed position `cutoff`) and release our claim."""
        with session_scope(self.engine) as session:
            session.execute(
                update(StoredResult)
                .where(col(StoredResult.key) == key)
                .values(
                    result=result.model_dump_json(),
                    summary=ResultSummary.of(result).model_dump_json(),
                    cutoff_seq=cutoff,
                    catalog_version=catalog_version,
                    computed_at=result.computed_at,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def release(self, key: str) -> None:
        """Give up our claim (the computation failed); the next tick or read tries again."""
        with session_scope(self.engine) as session:
            session.execute(
                update(StoredResult)
                .where(col(StoredResult.key) == key, col(StoredResult.claimed_by) == self.owner)
                .values(claimed_by=None, claimed_until=None)
            )

    def stale(
        self, head: int, catalog_version: int | None, read_since: datetime, limit: int
    ) -> list[Stale]:
        """Results read since then that are behind the feed or the catalog, and not claimed."""
        now = utcnow()
        with Session(self.engine) as session:
            rows = session.exec(
                select(StoredResult)
                .where(
                    col(StoredResult.result).is_not(None),
                    col(StoredResult.read_at) >= read_since,
                    _stale(head, catalog_version),
                    or_(
                        col(StoredResult.claimed_until).is_(None),
                        col(StoredResult.claimed_until) < now,
                    ),
                )
                .order_by(col(StoredResult.read_at).desc())
                .limit(limit)
            ).all()
        return [
            Stale(row.key, row.code, row.definition_version, params_of_json(row.params))
            for row in rows
        ]


def _stale(head: int, catalog_version: int | None) -> Any:
    behind = or_(col(StoredResult.cutoff_seq).is_(None), col(StoredResult.cutoff_seq) < head)
    if catalog_version is None:
        return behind
    return or_(
        behind,
        col(StoredResult.catalog_version).is_(None),
        col(StoredResult.catalog_version) != catalog_version,
    )
