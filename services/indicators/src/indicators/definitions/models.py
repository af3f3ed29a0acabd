"""Stored definitions: every version kept, so an old result can be computed again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from indicators.definitions.spec import DefinitionSpec
from indicators.models import IndicatorsModel
from pilnveide_kit.db import UtcDateTime

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$"


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class IndicatorDefinition(IndicatorsModel, table=True):
    """One version of how an indicator is computed; rows are never changed once written."""

    __tablename__ = "indicator_definition"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, index=True)
    version: int
    plan: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=40)
    spec: dict[str, Any] = Field(sa_type=JSON)
    #: A retired version ends the indicator's computation (older versions stay reproducible).
    retired: bool = False
    #: "defaults" for versions loaded from the shipped file, otherwise the API client's id.
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
    note: str | None = Field(default=None, max_length=2000)


def with_status_rule(spec: DefinitionSpec) -> DefinitionSpec:
    """A new definition's spec: one without a status rule counts the learned statuses."""
    if spec.has_status_rule:
        return spec
    return spec.model_copy(update={"counts": "learned"})


class DefinitionCreate(BaseModel):
    """A new indicator definition (version 1)."""

    code: str = PydanticField(pattern=CODE_PATTERN, description="Indicator code, e.g. 1.5.1")
    plan: str = PydanticField(default="LAP-2021-2027", min_length=1, max_length=64)
    spec: DefinitionSpec = PydanticField(
        description="Without `counts` or `filter.statuses` an enrolment-counting definition "
        "counts the learned statuses (`counts: learned`)"
    )
    note: str | None = PydanticField(default=None, max_length=2000)

    @field_validator("spec")
    @classmethod
    def _status_rule(cls, spec: DefinitionSpec) -> DefinitionSpec:
        return with_status_rule(spec)


class DefinitionUpdate(BaseModel):
    """A replacement definition; it becomes the next version."""

    spec: DefinitionSpec = PydanticField(
        description="Without `counts` or `filter.statuses` an enrolment-counting definition "
        "counts the learned statuses (`counts: learned`)"
    )
    note: str | None = PydanticField(default=None, max_length=2000)

    @field_validator("spec")
    @classmethod
    def _status_rule(cls, spec: DefinitionSpec) -> DefinitionSpec:
        return with_status_rule(spec)


class DefinitionPublic(BaseModel):
    """One version of a definition."""

    code: str
    version: int
    plan: str
    kind: str
    spec: DefinitionSpec
    retired: bool
    created_by: str
    created_at: datetime
    note: str | None

    @classmethod
    def of(cls, row: IndicatorDefinition) -> DefinitionPublic:
        """The public shape of a stored row."""
        return cls(
            code=row.code,
            version=row.version,
            plan=row.plan,
            kind=row.kind,
            spec=DefinitionSpec.model_validate(row.spec),
            retired=row.retired,
            created_by=row.created_by,
            created_at=row.created_at,
            note=row.note,
        )
