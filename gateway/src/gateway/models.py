"""The gateway's own SQLModel base and metadata (API clients and the audit log)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import SQLModel

from pilnveide_kit.db import new_registry


class GatewayModel(SQLModel, registry=new_registry()):
    """Base of every table of the gateway."""


metadata = GatewayModel.metadata


def load_all_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    import gateway.audit.models
    import gateway.clients.models
    import gateway.oidc.models  # noqa: F401


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite gives naive datetimes back)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
