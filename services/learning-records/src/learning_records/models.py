"""The learning-records service's own SQLModel base and metadata (no other service shares them)."""

from __future__ import annotations

from sqlmodel import SQLModel

from pilnveide_kit.db import new_registry


class LearningRecordsModel(SQLModel, registry=new_registry()):
    """Base of every table of this service."""


metadata = LearningRecordsModel.metadata


def load_all_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    import learning_records.xapi.models  # noqa: F401
