"""Which seed files have been loaded, with their hash, so loading again changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from catalog.common.time import utcnow
from catalog.models import CatalogModel
from pilnveide_kit.db import UtcDateTime


class SeedFile(CatalogModel, table=True):
    """The last loaded version of one seed file (plans also keep a plan_version each)."""

    __tablename__ = "seed_file"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    sha256: str = Field(max_length=64)
    version: int = 1
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime())
