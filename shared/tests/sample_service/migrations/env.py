from pilnveide_kit.migrations import run_alembic_env
from sample_service.app import metadata  # type: ignore[import-not-found]

run_alembic_env(metadata, lambda: "sqlite://")
