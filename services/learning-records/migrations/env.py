"""Alembic environment of the learning-records service."""

from learning_records.models import load_all_models, metadata
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.migrations import run_alembic_env

load_all_models()
run_alembic_env(metadata, lambda: LearningRecordsSettings().database_url)
