"""The indicators service's own SQLModel base and metadata (no other service shares them)."""

from __future__ import annotations

from sqlmodel import SQLModel

from pilnveide_kit.db import new_registry


class IndicatorsModel(SQLModel, registry=new_registry()):
    """Base of every table of this service."""


metadata = IndicatorsModel.metadata


def load_all_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    import indicators.definitions.models
    import indicators.observations.models
    import indicators.results.models  # noqa: F401
