"""Settings of the gateway (environment prefix GATEWAY_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Environment variables start with GATEWAY_, e.g. GATEWAY_CATALOG_URL."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    catalog_url: str = "http://127.0.0.1:8001"
    records_url: str = "http://127.0.0.1:8002"
    indicators_url: str = "http://127.0.0.1:8003"
    connect_timeout_s: float = Field(default=0.5, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    openapi_cache_s: float = Field(default=30.0, ge=0)
