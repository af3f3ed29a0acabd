"""Observations: a value (or text), its date and source, and who entered it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from indicators.definitions.models import utcnow
from indicators.models import IndicatorsModel
from pilnveide_kit.db import UtcDateTime


class IndicatorObservation(IndicatorsModel, table=True):
    """A hand-entered observation; (indicator, date, source) identifies it: retries are safe."""

    __tablename__ = "indicator_observation"
    __table_args__ = (UniqueConstraint("indicator_code", "observed_on", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_code: str = Field(max_length=40, index=True)
    value: float | None = None
    text: str | None = Field(default=None, max_length=2000)
    observed_on: date
    source: str = Field(max_length=500)
    entered_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())


class ObservationCreate(BaseModel):
    """A value observed by hand: a number (1/0 for a milestone reached or not) and/or a text."""

    value: float | None = None
    text: str | None = PydanticField(default=None, max_length=2000)
    observed_on: date
    source: str = PydanticField(min_length=1, max_length=500, description="Where it comes from")

    @model_validator(mode="after")
    def _something_observed(self) -> ObservationCreate:
        if self.value is None and not self.text:
            raise ValueError("an observation needs a value or a text")
        return self


class ObservationPublic(BaseModel):
    """A stored observation."""

    id: int
    indicator_code: str
    value: float | None
    text: str | None
    observed_on: date
    source: str
    entered_by: str
    created_at: datetime
