"""The catalog service's own SQLModel base and metadata (no other service shares them)."""

from __future__ import annotations

from sqlmodel import SQLModel

from pilnveide_kit.db import new_registry


class CatalogModel(SQLModel, registry=new_registry()):
    """Base of every table of this service."""


metadata = CatalogModel.metadata


def load_all_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    import catalog.changes.models
    import catalog.frameworks.models
    import catalog.institutions.models
    import catalog.loader.models
    import catalog.mandatory.models
    import catalog.plans.models
    import catalog.programmes.models
    import catalog.reference.models  # noqa: F401
