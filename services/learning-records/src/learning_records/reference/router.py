"""The catalog copy's state over HTTP: how far it follows the catalog, and what it holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from learning_records.reference.service import status
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require

router = APIRouter(prefix="/v1/catalog-copy", tags=["catalog copy"])


class CatalogCopyStatus(BaseModel):
    """The catalog version the copy is at, the last attempts, and resources held per kind."""

    catalog_version: int
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    counts: dict[str, int]


@router.get("", response_model=CatalogCopyStatus, summary="State of the catalog copy")
def catalog_copy_status(
    session: SessionDep, _principal: Annotated[Principal, require("records:read")]
) -> CatalogCopyStatus:
    """Which catalog version the copy (course tags, codes checked on writes) has reached."""
    return CatalogCopyStatus.model_validate(status(session))
