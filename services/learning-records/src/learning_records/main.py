"""The learning-records service's FastAPI application."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from learning_records.settings import LearningRecordsSettings
from learning_records.xapi.router import router as xapi_router
from learning_records.xapi.settings import install_xapi_settings
from pilnveide_kit.app import create_service_app
from pilnveide_kit.migrations import Migrations

SERVICE_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(SERVICE_DIR)


def create_app(settings: LearningRecordsSettings | None = None) -> FastAPI:
    """Build the learning-records application."""
    settings = settings or LearningRecordsSettings()
    return create_service_app(
        settings,
        title="Pilnveide learning records",
        description=(
            "Participants (pseudonymised), employment, enrolments, attendance, "
            "completions, test results, certificates, feedback, competency "
            "assessments, headcounts; the xAPI LRS."
        ),
        version=version("learning-records"),
        migrations=migrations,
        routers=[xapi_router],
        on_startup=[install_xapi_settings],
    )
