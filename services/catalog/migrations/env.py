"""Alembic environment of the catalog service."""

from catalog.models import load_all_models, metadata
from catalog.settings import CatalogSettings
from pilnveide_kit.migrations import run_alembic_env

load_all_models()
run_alembic_env(metadata, lambda: CatalogSettings().database_url)
