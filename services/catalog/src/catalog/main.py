"""The catalog service's FastAPI application."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from catalog.changes.router import router as changes_router
from catalog.frameworks.router import router as frameworks_router
from catalog.institutions.router import router as institutions_router
from catalog.mandatory.router import router as mandatory_router
from catalog.models import load_all_models
from catalog.plans.router import router as plans_router
from catalog.programmes.router import router as programmes_router
from catalog.reference.router import router as reference_router
from catalog.settings import CatalogSettings
from pilnveide_kit.app import create_service_app
from pilnveide_kit.migrations import Migrations

SERVICE_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(SERVICE_DIR)
load_all_models()


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """Build the catalog application."""
    settings = settings or CatalogSettings()
    return create_service_app(
        settings,
        title="Pilnveide catalog",
        description=(
            "The plan itself (priorities, measures, results, indicators with "
            "targets, institutions, deadlines, funding), learning programmes and "
            "courses, competency frameworks."
        ),
        version=version("catalog"),
        migrations=migrations,
        routers=[
            plans_router,
            institutions_router,
            reference_router,
            programmes_router,
            frameworks_router,
            mandatory_router,
            changes_router,
        ],
    )
