"""Alembic environment of the indicators service."""

from indicators.models import load_all_models, metadata
from indicators.settings import IndicatorsSettings
from pilnveide_kit.migrations import run_alembic_env

load_all_models()
run_alembic_env(metadata, lambda: IndicatorsSettings().database_url)
