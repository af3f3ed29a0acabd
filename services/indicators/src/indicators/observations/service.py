"""Enter and read hand-reported observations; a retried entry never duplicates one."""

from __future__ import annotations

from sqlmodel import Session, col, select

from indicators.definitions import service as definitions
from indicators.engine.results import Observation
from indicators.observations.models import IndicatorObservation, ObservationCreate
from pilnveide_kit.errors import Conflict
from pilnveide_kit.pagination import count_of


class NotHandReported(Conflict):
    """Observations are only entered for indicators defined as hand-reported (kind manual)."""

    slug, title = "not-hand-reported", "Not Hand-Reported"


class ObservationConflict(Conflict):
    """An observation with the same date and source exists with another value."""

    slug, title = "observation-conflict", "Observation Conflict"


def record(
    session: Session, code: str, payload: ObservationCreate, entered_by: str
) -> tuple[IndicatorObservation, bool]:
    """Store an observation; (row, created). The same one sent again answers the stored row."""
    definition = definitions.get(session, code)
    if definition.kind != "manual":
        raise NotHandReported(
            f"Indicator {code} is computed from the records ({definition.kind}); "
            "observations are entered only for hand-reported indicators"
        )
    existing = session.exec(
        select(IndicatorObservation).where(
            IndicatorObservation.indicator_code == code,
            IndicatorObservation.observed_on == payload.observed_on,
            IndicatorObservation.source == payload.source,
        )
    ).first()
    if existing is not None:
        if existing.value == payload.value and existing.text == payload.text:
            return existing, False
        raise ObservationConflict(
            f"Indicator {code} already has an observation on {payload.observed_on} from "
            f"this source with another value",
            existing_id=existing.id,
        )
    row = IndicatorObservation(
        indicator_code=code,
        value=payload.value,
        text=payload.text,
        observed_on=payload.observed_on,
        source=payload.source,
        entered_by=entered_by,
    )
    session.add(row)
    session.flush()
    return row, True


def listed(
    session: Session, code: str, *, after_id: int | None = None, limit: int | None = None
) -> list[IndicatorObservation]:
    """An indicator's observations in the order they were entered."""
    query = (
        select(IndicatorObservation)
        .where(IndicatorObservation.indicator_code == code)
        .order_by(col(IndicatorObservation.id))
    )
    if after_id is not None:
        query = query.where(col(IndicatorObservation.id) > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def count(session: Session, code: str) -> int:
    """How many observations an indicator has."""
    return count_of(
        session, select(IndicatorObservation).where(IndicatorObservation.indicator_code == code)
    )


def for_engine(session: Session, code: str) -> list[Observation]:
    """An indicator's observations as the engine reads them."""
    return [
        Observation(
            value=row.value,
            text=row.text,
            observed_on=row.observed_on,
            source=row.source,
            entered_by=row.entered_by,
        )
        for row in listed(session, code)
    ]
