"""The learning-records service's FastAPI application."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from learning_records.aggregations.router import router as aggregations_router
from learning_records.changes.router import router as changes_router
from learning_records.competencies.router import router as competencies_router
from learning_records.compliance.router import router as compliance_router
from learning_records.enrolments.router import router as enrolments_router
from learning_records.hr.router import router as hr_router
from learning_records.ingest.router import router as writes_router
from learning_records.mailboxes.router import router as mailboxes_router
from learning_records.models import load_all_models
from learning_records.people.router import router as people_router
from learning_records.privacy.router import router as privacy_router
from learning_records.quality.router import router as quality_router
from learning_records.reference.router import router as reference_router
from learning_records.reference.sync import with_catalog_sync
from learning_records.settings import LearningRecordsSettings
from learning_records.xapi.router import all_routers as xapi_routers
from learning_records.xapi.settings import XapiSettings, install_xapi_settings
from pilnveide_kit.app import create_service_app
from pilnveide_kit.migrations import Migrations

SERVICE_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(SERVICE_DIR)


def create_app(settings: LearningRecordsSettings | None = None) -> FastAPI:
    """Build the learning-records application."""
    settings = settings or LearningRecordsSettings()
    load_all_models()
    app = create_service_app(
        settings,
        title="Pilnveide learning records",
        description=(
            "Participants (pseudonymised), employment, enrolments, attendance, "
            "completions, test results, certificates, feedback, competency "
            "assessments, headcounts; the xAPI LRS."
        ),
        version=version("learning-records"),
        migrations=migrations,
        routers=[
            writes_router,
            enrolments_router,
            changes_router,
            aggregations_router,
            privacy_router,
            people_router,
            competencies_router,
            compliance_router,
            hr_router,
            mailboxes_router,
            reference_router,
            quality_router,
            xapi_routers(),
        ],
        on_startup=[install_xapi_settings],
        # The input boundary reads whole JSON/NDJSON bodies: as large as a bulk write or an
        # xAPI request may be (the routes' own limits then apply).
        max_json_bytes=max(settings.bulk_max_bytes, XapiSettings().max_body_bytes),
    )
    with_catalog_sync(app, settings)
    return app
