"""The indicators service's FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from indicators.definitions.router import router as definitions_router
from indicators.observations.router import router as observations_router
from indicators.results.refresher import Refresher
from indicators.results.router import router as results_router
from indicators.results.service import IndicatorsService
from indicators.settings import IndicatorsSettings
from indicators.sources.http import HttpSources
from indicators.sources.protocols import CatalogSource, RecordsSource
from pilnveide_kit.app import create_service_app
from pilnveide_kit.migrations import Migrations

SERVICE_DIR = Path(__file__).resolve().parents[2]
migrations = Migrations(SERVICE_DIR)


def create_app(
    settings: IndicatorsSettings | None = None,
    *,
    records: RecordsSource | None = None,
    catalog: CatalogSource | None = None,
) -> FastAPI:
    """Build the indicators application (sources over HTTP unless given, as in tests)."""
    settings = settings or IndicatorsSettings()
    sources: HttpSources | None = None
    if records is None or catalog is None:
        sources = HttpSources(settings)
        records = records or sources.records
        catalog = catalog or sources.catalog

    @asynccontextmanager
    async def http_sources(_app: FastAPI) -> AsyncIterator[None]:
        # Opened on the loop that serves the app, which also closes them.
        if sources is None:
            yield
            return
        sources.open()
        try:
            yield
        finally:
            await sources.aclose()

    @asynccontextmanager
    async def refresher(app: FastAPI) -> AsyncIterator[None]:
        # The stored results live in the app's database; one refresher per instance keeps
        # them at the records feed head and the catalog's version.
        service: IndicatorsService = app.state.indicators
        service.store.bind(app.state.engine)
        loop = Refresher(service)
        app.state.refresher = loop
        task = asyncio.create_task(loop.run(), name="indicators-refresher")
        try:
            yield
        finally:
            loop.stop()
            with suppress(TimeoutError):  # past the timeout, wait_for has cancelled it
                await asyncio.wait_for(task, timeout=settings.read_timeout_s)

    app = create_service_app(
        settings,
        title="Pilnveide indicators",
        description=(
            "Computes every plan indicator from the records against its target, by "
            "institution, resort, position group, sector and year; explains and exports it."
        ),
        version=version("indicators"),
        migrations=migrations,
        routers=[results_router, definitions_router, observations_router],
        resources=[http_sources, refresher],
    )
    app.state.indicators = IndicatorsService(records, catalog, settings)
    return app
