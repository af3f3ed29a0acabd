"""Settings of the indicators service (environment prefix INDICATORS_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings


class IndicatorsSettings(ServiceSettings):
    """Environment variables start with INDICATORS_, e.g. INDICATORS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="INDICATORS_", extra="ignore")

    service_name: str = "indicators"
    port: int = 8003
