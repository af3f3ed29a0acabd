"""Settings of the learning-records service (environment prefix RECORDS_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings


class LearningRecordsSettings(ServiceSettings):
    """Environment variables start with RECORDS_, e.g. RECORDS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="ignore")

    service_name: str = "learning-records"
    port: int = 8002
