"""Alembic environment of the gateway."""

from gateway.models import load_all_models, metadata
from gateway.settings import GatewaySettings
from pilnveide_kit.migrations import run_alembic_env

load_all_models()
run_alembic_env(metadata, lambda: GatewaySettings().database_url)
