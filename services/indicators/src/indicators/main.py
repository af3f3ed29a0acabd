"""The indicators service's FastAPI application."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from indicators.settings import IndicatorsSettings
from pilnveide_kit.app import create_service_app
from pilnveide_kit.migrations import Migrations

SERVICE_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(SERVICE_DIR)


def create_app(settings: IndicatorsSettings | None = None) -> FastAPI:
    """Build the indicators application."""
    settings = settings or IndicatorsSettings()
    return create_service_app(
        settings,
        title="Pilnveide indicators",
        description=(
            "Computes every plan indicator from the records against its target, by "
            "institution, position group, sector and year."
        ),
        version=version("indicators"),
        migrations=migrations,
        routers=[],
    )
